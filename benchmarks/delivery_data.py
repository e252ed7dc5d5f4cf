"""Delivery data of the benchmark's organisation: releases with approvals, commits and history;
a year of deployment, commit and incident facts, planned service by service as the demo's
history plans them (apps.demo.history_plan), with the daily roll-up; a year of scorecard
snapshots."""

import json
import time
from bisect import bisect_left
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from psycopg import sql

from apps.demo.skew import cumulative

if TYPE_CHECKING:
    import random
    from collections.abc import Iterable

    from django.db.models import Model
    from psycopg import Connection

    from benchmarks.load import Sizes, World

DAY = timedelta(days=1)
HISTORY_WEEKS = 52
# Deployments in all per production deployment: each comes with its staging deployment, and
# now and then a failed attempt there (as apps.demo.history_plan plans them).
DEPLOYMENTS_PER_PRODUCTION = 2.2


class DeliveryData:
    """The delivery part of benchmarks.load.Loader, which provides these:"""

    conn: "Connection"
    sizes: "Sizes"
    random: "random.Random"
    now: datetime
    world: "World"
    rows: dict[str, int]
    timings: dict[str, float]

    if TYPE_CHECKING:

        def copy(self, model: type[Model], fields: list[str], rows: Iterable) -> int: ...

    def read_before_loading(self) -> None:
        """What the load reads through Django, read before its transaction locks the tables."""
        from apps.insights.scorecards.evaluation import rule_settings

        self.scorecard_rules = [rule for rule in rule_settings() if rule.is_enabled]

    # --- Releases --------------------------------------------------------------------------

    def load_releases(self) -> None:
        from apps.releases.models import (
            Approval,
            ApprovalPolicy,
            ApprovalRule,
            ChangeWindow,
            Freeze,
            Release,
            ReleaseCommit,
            ReleaseTransition,
        )

        r, w, s = self.random, self.world, self.sizes
        self.copy(
            ApprovalPolicy,
            ["id", "name", "environment_kind", "tier", "change_type", "required_checks"],
            [
                (1, "Production", "production", None, "", "[]"),
                (2, "Critical production", "production", 1, "", "[]"),
            ],
        )
        self.copy(
            ApprovalRule,
            ["id", "policy", "name", "required_count", "team", "role"],
            [
                (1, 1, "Release managers", 1, None, "release_manager"),
                (2, 2, "A second release manager", 1, None, "release_manager"),
            ],
        )
        w.rules = {"production": 1, "critical": 2}
        month_start = self.now.replace(day=1, hour=0)
        self.copy(
            ChangeWindow,
            [
                "name",
                "kind",
                "rrule",
                "starts_at_local",
                "duration_minutes",
                "time_zone",
                "scope",
                "environment_kind",
            ],
            [
                (
                    "Weekdays",
                    "allow",
                    "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
                    self.now - 400 * DAY,
                    10 * 60,
                    "Europe/Berlin",
                    "organisation",
                    "",
                ),
                (
                    "No Friday evenings",
                    "deny",
                    "FREQ=WEEKLY;BYDAY=FR",
                    (self.now - 400 * DAY).replace(hour=16),
                    8 * 60,
                    "Europe/Berlin",
                    "environment",
                    "production",
                ),
            ],
        )
        self.copy(
            Freeze,
            ["name", "reason", "starts_at", "ends_at", "scope", "environment_kind"],
            [
                (
                    "Quarter close",
                    "",
                    month_start + 20 * DAY,
                    month_start + 23 * DAY,
                    "environment",
                    "production",
                ),
                (
                    "Spring freeze",
                    "",
                    self.now - 120 * DAY,
                    self.now - 115 * DAY,
                    "organisation",
                    "",
                ),
            ],
        )

        cum = cumulative(w.service_weights)
        services = w.services
        releases, commits, approvals, transitions = [], [], [], []
        total = s.releases
        future = max(40, total * 3 // 100)
        users_by_id = {u["id"]: u for u in w.users}
        for i in range(total):
            rid = i + 1
            sv = services[bisect_left(cum, r.random() * cum[-1])]
            env_name = r.choices(["prod", "staging", "dev"], [0.5, 0.3, 0.2])[0]
            env_id = w.environments[sv["id"]][env_name]
            members = w.team_members[sv["owner"]]
            requester = r.choice(members)
            change = r.choices(["normal", "standard", "emergency"], [0.8, 0.15, 0.05])[0]
            if i < total - future:
                start = self.now - timedelta(seconds=r.randrange(3600, 365 * 86400))
                state = r.choices(
                    ["succeeded", "failed", "rolled_back", "cancelled", "rejected"],
                    [0.9, 0.04, 0.03, 0.02, 0.01],
                )[0]
            else:
                start = self.now + timedelta(seconds=r.randrange(600, 30 * 86400))
                state = r.choices(
                    ["pending_approval", "approved", "scheduled", "draft"], [0.6, 0.1, 0.2, 0.1]
                )[0]
            start = start.replace(minute=(start.minute // 15) * 15, second=0)
            end = start + timedelta(minutes=r.choice([30, 60, 60, 90, 120]))
            submitted = start - timedelta(hours=r.randrange(2, 72)) if state != "draft" else None
            needs_approval = env_name == "prod" and change != "standard"
            approved = None
            if state in ("succeeded", "failed", "rolled_back", "approved", "scheduled"):
                approved = submitted + timedelta(minutes=r.randrange(5, 600))
                if needs_approval:
                    rms = r.sample(w.release_managers, 2 if sv["tier"] == 1 else 1)
                    for n, approver in enumerate(rms):
                        approvals.append(
                            (
                                rid,
                                approver,
                                "approve",
                                w.rules["critical" if n else "production"],
                                approved,
                                approved + timedelta(hours=72),
                            )
                        )
            elif state == "rejected":
                approvals.append(
                    (
                        rid,
                        r.choice(w.release_managers),
                        "reject",
                        w.rules["production"],
                        submitted + timedelta(hours=1),
                        None,
                    )
                )
            elif (
                state == "pending_approval"
                and needs_approval
                and sv["tier"] == 1
                and r.random() < 0.5
            ):
                at = min(self.now, submitted + timedelta(hours=1))
                approvals.append(
                    (
                        rid,
                        r.choice(w.release_managers[1:]),
                        "approve",
                        w.rules["production"],
                        at,
                        at + timedelta(hours=72),
                    )
                )
            finished = state in ("succeeded", "failed", "rolled_back")
            started_at = start + timedelta(minutes=r.randrange(0, 10)) if finished else None
            finished_at = started_at + timedelta(minutes=r.randrange(3, 40)) if finished else None
            # The audit facts a finished release keeps (apps/releases/audit_facts.py): its
            # approvals are those above, all approving and live; no checks are reported.
            approval_on_record = (approved is not None and needs_approval) if finished else None
            checks_passed = True if finished else None
            retro_due = retro_done = None
            if change == "emergency" and finished:
                retro_due = start + 2 * DAY
                retro_done = None if r.random() < 0.01 else start + DAY
            releases.append(
                (
                    rid,
                    sv["id"],
                    env_id,
                    f"registry.bench.example.com/{sv['name']}:{rid}",
                    f"{sv['name']} release {rid}",
                    change,
                    "Customer impact" if change == "emergency" else "",
                    "high" if sv["tier"] == 1 and env_name == "prod" else "low",
                    start,
                    end,
                    requester,
                    state,
                    submitted,
                    approved,
                    started_at,
                    finished_at,
                    retro_due,
                    retro_done,
                    approval_on_record,
                    checks_passed,
                    submitted or start,
                    finished_at or submitted or start,
                )
            )
            author = users_by_id[r.choice(members)]["email"]
            for c in range(r.choice([1, 1, 2, 2, 3, 4])):
                sha = f"{r.getrandbits(160):040x}"
                at = (submitted or start) - timedelta(hours=r.randrange(1, 96), minutes=c)
                commits.append((rid, sha, author, f"Change {c} of {sv['name']}", at))
            if state != "draft":
                path = ["draft", "pending_approval"]
                if approved:
                    path += ["approved", "scheduled"]
                if finished:
                    path += ["in_progress", state]
                elif state in ("rejected", "cancelled"):
                    path += [state]
                at = submitted
                for a, b in pairwise(path):
                    transitions.append((rid, a, b, requester if a == "draft" else None, at))
                    at += timedelta(minutes=5)
        self.copy(
            Release,
            [
                "id",
                "service",
                "environment",
                "version",
                "title",
                "change_type",
                "justification",
                "risk",
                "planned_start",
                "planned_end",
                "requester",
                "state",
                "submitted_at",
                "approved_at",
                "started_at",
                "finished_at",
                "retrospective_due_at",
                "retrospective_done_at",
                "approval_on_record",
                "checks_passed",
                "created_at",
                "updated_at",
            ],
            releases,
        )
        self.copy(
            Approval,
            ["release", "approver", "decision", "rule", "created_at", "expires_at"],
            approvals,
        )
        self.copy(ReleaseCommit, ["release", "sha", "author", "message", "committed_at"], commits)
        self.copy(
            ReleaseTransition, ["release", "from_state", "to_state", "actor", "at"], transitions
        )
        self.world.facts["pending_releases"] = sum(
            1 for row in releases if row[11] == "pending_approval"
        )

    # --- Insights --------------------------------------------------------------------------

    def load_insights(self) -> None:
        """A year of each service's deployments, as the demo's history plans them
        (apps.demo.history_plan) at the service's own pace: production deployments with their
        staging ones and commits, failures, rollbacks and incidents. Ids follow the start."""
        from apps.demo.history_plan import History, personality_at_pace, plan_service
        from apps.demo.world import ServiceSpec
        from apps.insights.models import (
            CommitFact,
            DeploymentFact,
            IncidentFact,
            IncidentLink,
            IncidentSource,
        )
        from apps.insights.scorecards.selectors import week_of
        from apps.insights.services.facts import (
            INCIDENT_LINK_LOOKBACK,
            _is_failure,
            _lead_time,
            _recovery,
        )

        r, w, s = self.random, self.world, self.sizes
        first_monday = week_of(self.now.date()) - timedelta(weeks=HISTORY_WEEKS - 1)
        per_week = s.deployments / DEPLOYMENTS_PER_PRODUCTION / HISTORY_WEEKS
        # [id, service, environment, ..., recovery_seconds, commits]: the copied columns, then
        # the commits (sha, committed_at) the commit facts are copied from.
        facts: list[list] = []
        causes: list[tuple] = []  # (service index, incident, its cause's fact row or None)
        production: dict[int, list[tuple]] = defaultdict(list)  # index → [(started, row)]
        for index, spec in enumerate(w.organisation.services):
            sv = w.services[index]
            habits = personality_at_pace(r, per_week * w.service_weights[index])
            history = History[ServiceSpec]()
            plan_service(
                r, history, spec, habits, first_monday, self.now, weeks=HISTORY_WEEKS, ci_runs=False
            )
            names = {env.kind: env.name for env in spec.environments}
            rows = {}
            for change in history.changes:
                row = [
                    None,
                    sv["id"],
                    names[change.environment_kind],
                    change.production,
                    change.version,
                    habits.source,
                    None,
                    change.started_at,
                    change.finished_at,
                    change.result,
                    len(change.commits),
                    _is_failure(change.result, change.rolled_back_at, caused_incident=False),
                    change.rolled_back_at,
                    _recovery(change.started_at, change.rolled_back_at),
                    change.commits,
                ]
                facts.append(row)
                rows[id(change)] = row
                if change.production:
                    production[index].append((change.started_at, row))
            causes += [
                (index, incident, rows[id(incident.cause)] if incident.cause else None)
                for incident in history.incidents
            ]
        facts.sort(key=lambda row: (row[7], row[1]))
        for did, row in enumerate(facts, start=1):
            row[0], row[6] = did, f"bench/{did}"

        incidents = []
        causes.sort(key=lambda item: item[1].opened_at)
        for iid, (index, incident, cause) in enumerate(causes, start=1):
            link = IncidentLink.REPORTED if cause else ""
            if cause is None:  # the latest production deployment before it, as recorded ones
                deployed = production[index]
                at = bisect_left(deployed, incident.opened_at, key=lambda item: item[0]) - 1
                if at >= 0 and incident.opened_at - deployed[at][0] <= INCIDENT_LINK_LOOKBACK:
                    cause, link = deployed[at][1], IncidentLink.INFERRED
            if cause is not None:
                cause[11] = True
            resolved = incident.resolved_at
            incidents.append(
                (
                    w.services[index]["id"],
                    IncidentSource.PAGERDUTY,
                    f"PD-{iid}",
                    incident.title,
                    incident.opened_at,
                    resolved,
                    _recovery(incident.opened_at, resolved),
                    cause[0] if cause else None,
                    link,
                )
            )

        self.copy(
            DeploymentFact,
            [
                "id",
                "service",
                "environment",
                "is_production",
                "version",
                "source",
                "external_id",
                "started_at",
                "finished_at",
                "result",
                "commit_count",
                "is_failure",
                "rolled_back_at",
                "recovery_seconds",
            ],
            (tuple(row[:-1]) for row in facts),
        )
        self.copy(
            CommitFact,
            ["deployment", "sha", "committed_at", "lead_time_seconds"],
            (
                (row[0], sha, committed_at, _lead_time(row[8], committed_at))
                for row in facts
                for sha, committed_at in row[-1]
            ),
        )
        self.copy(
            IncidentFact,
            [
                "service",
                "source",
                "external_id",
                "title",
                "opened_at",
                "resolved_at",
                "recovery_seconds",
                "deployment",
                "link",
            ],
            incidents,
        )
        counts = Counter(row[1] for row in facts)
        busiest = max(w.services, key=lambda sv: counts[sv["id"]])
        self.world.facts["busiest_service"] = busiest["name"]
        self.world.facts["busiest_service_deployments"] = counts[busiest["id"]]
        self._rollup()
        self._lead_times()
        self._scorecards()

    def _rollup(self) -> None:
        """The roll-up, as apps.insights.services.rollups computes it: per service, day (UTC,
        the bench's TIME_ZONE) and production or not; lead times of counted commits only (the
        first production deployment of a service that shipped a sha and stayed)."""
        from apps.insights.models import CommitFact, DailyDeploymentRollup, DeploymentFact

        def names(model, *fields: str) -> dict:
            def quoted(name: str) -> str:
                return sql.Identifier(name).as_string(self.conn)

            return {
                "table": quoted(model._meta.db_table),
                **{f: quoted(model._meta.get_field(f).column) for f in fields},
            }

        r = names(
            DailyDeploymentRollup,
            "service",
            "day",
            "is_production",
            "deployments",
            "failures",
            "rollbacks",
            "lead_time_seconds_sum",
            "lead_time_count",
        )
        d = names(
            DeploymentFact,
            "id",
            "service",
            "finished_at",
            "is_production",
            "is_failure",
            "rolled_back_at",
            "result",
        )
        c = names(CommitFact, "deployment", "sha", "lead_time_seconds")
        # Only identifiers, quoted above, are interpolated; there are no values.
        statement = sql.SQL(
            f"""
            INSERT INTO {r["table"]} ({r["service"]}, {r["day"]}, {r["is_production"]},
                {r["deployments"]}, {r["failures"]}, {r["rollbacks"]},
                {r["lead_time_seconds_sum"]}, {r["lead_time_count"]})
            SELECT d.{d["service"]}, (d.{d["finished_at"]} AT TIME ZONE 'UTC')::date,
                   d.{d["is_production"]}, count(*), count(*) FILTER (WHERE d.{d["is_failure"]}),
                   count(*) FILTER (WHERE d.{d["rolled_back_at"]} IS NOT NULL),
                   coalesce(sum(l.total), 0), coalesce(sum(l.n), 0)
            FROM {d["table"]} d
            LEFT JOIN (
                SELECT deployment, sum(lead) AS total, count(*) AS n
                FROM (
                    SELECT c.{c["deployment"]} AS deployment, c.{c["lead_time_seconds"]} AS lead,
                           row_number() OVER (PARTITION BY f.{d["service"]}, c.{c["sha"]}
                                              ORDER BY f.{d["finished_at"]}, f.{d["id"]}) AS nth
                    FROM {c["table"]} c JOIN {d["table"]} f ON f.{d["id"]} = c.{c["deployment"]}
                    WHERE f.{d["is_production"]} AND f.{d["result"]} = 'succeeded'
                      AND f.{d["rolled_back_at"]} IS NULL
                ) ranked
                WHERE nth = 1 AND lead IS NOT NULL
                GROUP BY deployment
            ) l ON l.deployment = d.{d["id"]}
            GROUP BY 1, 2, 3
            """  # noqa: S608
        )
        rollup = DailyDeploymentRollup._meta.db_table
        started = time.perf_counter()
        self.conn.execute("SET LOCAL work_mem = '256MB'")
        cursor = self.conn.execute(statement)
        self.timings[rollup] = time.perf_counter() - started
        self.rows[rollup] = cursor.rowcount

    def _lead_times(self) -> None:
        """The counted lead times (apps.insights.models.LeadTime), as the roll-up refresh writes
        them: each sha's first production deployment of its service that stayed."""
        from apps.insights.models import CommitFact, DeploymentFact, LeadTime

        def quoted(name: str) -> str:
            return sql.Identifier(name).as_string(self.conn)

        lead, commit, fact = (
            quoted(m._meta.db_table) for m in (LeadTime, CommitFact, DeploymentFact)
        )
        # Only identifiers, quoted above, are interpolated; there are no values.
        statement = sql.SQL(
            f"""
            INSERT INTO {lead} (commit_id, service_id, deployed_at, seconds)
            SELECT id, service_id, finished_at, lead_time_seconds FROM (
                SELECT c.id, f.service_id, f.finished_at, c.lead_time_seconds,
                       row_number() OVER (PARTITION BY f.service_id, c.sha
                                          ORDER BY f.finished_at, f.id) AS nth
                FROM {commit} c JOIN {fact} f ON f.id = c.deployment_id
                WHERE f.is_production AND f.result = 'succeeded' AND f.rolled_back_at IS NULL
            ) ranked
            WHERE nth = 1 AND lead_time_seconds IS NOT NULL
            """  # noqa: S608
        )
        started = time.perf_counter()
        cursor = self.conn.execute(statement)
        self.timings[LeadTime._meta.db_table] = time.perf_counter() - started
        self.rows[LeadTime._meta.db_table] = cursor.rowcount

    def _scorecards(self) -> None:
        """A year of weekly snapshots and the current score of every service, with the rules
        the scorecard migration seeded, levelled as the scorecards level them."""
        from apps.insights.models import ScorecardSnapshot, ServiceScore
        from apps.insights.scorecards.evaluation import tally

        r, w, s = self.random, self.world, self.sizes
        rules = self.scorecard_rules
        w.scorecard_keys = [(rule.key, rule.level) for rule in rules]
        if not rules:
            return
        encoded: dict[int, tuple[str, int, int]] = {}

        def describe(mask: int) -> tuple[str, int, int]:
            if mask not in encoded:
                results = {rule.key: bool(mask >> n & 1) for n, rule in enumerate(rules)}
                level, passed, _ = tally(results, rules)
                encoded[mask] = (json.dumps(results), level, passed)
            return encoded[mask]

        monday = (self.now - timedelta(days=self.now.weekday())).date()
        weeks = [monday - timedelta(weeks=n) for n in range(s.snapshot_weeks - 1, -1, -1)]
        full = (1 << len(rules)) - 1
        snapshots, scores = [], []
        for sv in w.services:
            mask = r.getrandbits(len(rules))
            for week in weeks:
                if r.random() < 0.08:  # now and then a rule starts (or stops) passing
                    bit = 1 << r.randrange(len(rules))
                    mask = mask | bit if r.random() < 0.75 else mask & ~bit & full
                results, level, passed = describe(mask)
                taken = datetime(week.year, week.month, week.day, 3, tzinfo=UTC)
                snapshots.append(
                    (sv["id"], sv["owner"], week, level, results, passed, len(rules), taken)
                )
            results, level, passed = describe(mask)
            scores.append((sv["id"], level, results, passed, len(rules), self.now))
        self.copy(
            ScorecardSnapshot,
            ["service", "team", "week", "level", "results", "passed", "total", "taken_at"],
            snapshots,
        )
        self.copy(
            ServiceScore,
            ["service", "level", "results", "passed", "total", "evaluated_at"],
            scores,
        )
