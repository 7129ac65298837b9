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
      var shown = 0;
      findings.forEach(function (finding) {
        var visible = severities[finding.getAttribute("data-severity")] !== false &&
          (!area.value || finding.getAttribute("data-area") === area.value);
        finding.hidden = !visible;
        if (visible) { shown += 1; }
      });
      count.textContent = shown === findings.length ? "" : shown + " of " + findings.length + " shown";
    };
    boxes.forEach(function (box) { box.addEventListener("change", apply); });
    area.addEventListener("change", apply);
    apply();
  }
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
