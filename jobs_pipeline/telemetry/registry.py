"""Names of the telemetry sinks a deployment can choose (``TELEMETRY_SINKS``).

Kept apart from the emitters so a name can be checked without importing any sink.
"""

TELEMETRY_SINKS: dict[str, str] = {
    "memory": "jobs_pipeline.telemetry.memory:InMemoryTelemetryEmitter",
    "log": "jobs_pipeline.telemetry.log:LogTelemetryEmitter",
    "lake": "jobs_pipeline.telemetry.lake:LakeTelemetryEmitter",
    "http": "jobs_pipeline.telemetry.http:HTTPTelemetryEmitter",
    "duckdb": "jobs_pipeline.warehouse.duckdb_sink:DuckDBTelemetryEmitter",
}
