"""Keep every event under 64 KiB, all that CloudEvents intermediaries promise to forward.

The per-key maps keep their ``top_n`` largest entries plus a ``<map>_truncated`` summary; the
full picture stays in the error report (``error_report_uri``)."""

from typing import Any

#: CloudEvents: "intermediaries MUST forward events of 64 KiB or less".
MAX_EVENT_BYTES = 64 * 1024
TOP_N = 25
MAX_KEY_CHARS = 120
BOUNDED_MAPS = ("errors_by_field", "warnings_by_field", "errors_by_rule", "sole_errors_by_rule")


def _needs_bounding(metrics: dict[str, Any], top_n: int) -> bool:
    for name in BOUNDED_MAPS:
        value = metrics.get(name)
        if isinstance(value, dict) and (len(value) > top_n or any(len(k) > MAX_KEY_CHARS for k in value)):
            return True
    return False


def bound_metrics(metrics: dict[str, Any], top_n: int = TOP_N) -> dict[str, Any]:
    """``metrics`` with each per-key map cut to its ``top_n`` largest counts.

    Returns the same object when nothing needs cutting (the common case costs a few
    ``len`` calls on the job's hot path).
    """
    if not _needs_bounding(metrics, top_n):
        return metrics
    out = dict(metrics)
    for name in BOUNDED_MAPS:
        value = metrics.get(name)
        if not isinstance(value, dict):
            continue
        ranked = sorted(value.items(), key=lambda kv: (-_count(kv[1]), kv[0]))
        kept = {k[:MAX_KEY_CHARS]: v for k, v in ranked[:top_n]}
        dropped = ranked[top_n:]
        out[name] = kept
        if dropped:
            out[f"{name}_truncated"] = {
                "omitted_keys": len(dropped),
                "omitted_count": sum(_count(v) for _, v in dropped),
            }
    return out


def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0
