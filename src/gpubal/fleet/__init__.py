"""`gpubal fleet`: many hosts' reports read one at a time (sources), each reduced to a digest (digest),
and the digests aggregated into one fleet report (aggregate) for the renderers in gpubal.reports.fleet."""
