(function () {
  "use strict";
  // Findings: show those whose severity is ticked and whose area is chosen.
  var findings = Array.prototype.slice.call(document.querySelectorAll("article.finding"));
  var filters = document.getElementById("finding-filters");
  if (filters && findings.length) {
    filters.hidden = false;
    var boxes = Array.prototype.slice.call(filters.querySelectorAll("input[data-severity]"));
    var area = document.getElementById("area-filter");
    var count = document.getElementById("filter-count");
    var apply = function () {
      var severities = {};
      boxes.forEach(function (box) { severities[box.getAttribute("data-severity")] = box.checked; });
      // an entry can hold one finding on several GPUs (data-count): the count says findings, as the heading does
      var shown = 0, total = 0;
      findings.forEach(function (finding) {
        var visible = severities[finding.getAttribute("data-severity")] !== false &&
          (!area.value || finding.getAttribute("data-area") === area.value);
        var n = Number(finding.getAttribute("data-count")) || 1;
        finding.hidden = !visible;
        total += n;
        if (visible) { shown += n; }
      });
      count.textContent = shown === total ? "" : shown + " of " + total + " shown";
    };
    boxes.forEach(function (box) { box.addEventListener("change", apply); });
    area.addEventListener("change", apply);
    apply();
  }
  // Fix commands: a button copies the command exactly as printed (no prompt, no trailing newline).
  Array.prototype.slice.call(document.querySelectorAll(".command pre")).forEach(function (pre) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy this command");
    button.addEventListener("click", function () {
      var text = pre.textContent;
      var done = function (word) {
        button.textContent = word;
        setTimeout(function () { button.textContent = "Copy"; }, 1500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { done("Copied"); }, function () { done("Select it"); });
      } else {
        var range = document.createRange();
        range.selectNodeContents(pre);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        done(document.execCommand && document.execCommand("copy") ? "Copied" : "Select it");
      }
    });
    pre.parentNode.appendChild(button);
  });
  // Facts: keep the rows whose name, value or source holds every word typed.
  var search = document.getElementById("fact-search");
  var table = document.getElementById("facts-table");
  if (search && table) {
    search.hidden = false;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    var status = document.getElementById("fact-count");
    search.addEventListener("input", function () {
      var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (row, i) {
        var visible = words.every(function (word) { return texts[i].indexOf(word) !== -1; });
        row.hidden = !visible;
        if (visible) { shown += 1; }
      });
      status.textContent = words.length ? shown + " of " + rows.length + " facts" : "";
    });
  }
})();
