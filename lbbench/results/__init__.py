"""What was measured: recorders, the trial and result-set builder, the metrics registry,
result files, comparison with significance, the gate, the summary table and the report."""
