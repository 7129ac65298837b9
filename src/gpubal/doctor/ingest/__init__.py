"""Text that users paste (nvidia-smi output, topology matrices, Ollama logs, collect_env, bug reports)
read into a partial snapshot: `gpubal.doctor.ingest.dumps.snapshot_from_dumps(["smi-q.txt", "topo.txt"])`.

One module per format (smi_table, smi_list, smi_query, smi_xml, topo, nvlink_status, collect_env,
ollama_log, bug_report); `registry` recognises them from content; `reader` streams files and gzip;
`build` merges the facts of several dumps and reports values that disagree; `dumps` ties them together.
This __init__ imports nothing, so the live doctor, which uses only the Ollama log parser, does not pay
for every parser.
"""
