"""The plain SQL behind each measured page or API: one statement per page that returns the same
rows or figures, run through psycopg over an open connection. It is the yardstick for "the best
the database can do": a page's time divided by its SQL's time is the platform's overhead."""

from datetime import UTC, date, datetime, time, timedelta

SEARCH = """
    (s.name ILIKE %(like)s OR s.title ILIKE %(like)s OR s.description ILIKE %(like)s
     OR EXISTS (SELECT 1 FROM catalog_service_tags st JOIN catalog_tag t ON t.id = st.tag_id
                WHERE st.service_id = s.id AND t.name ILIKE %(like)s))
    AND s.lifecycle = %(lifecycle)s AND s.type = %(type)s
"""

PAGE_ROWS = """
    SELECT s.name, s.title, s.description, o.slug AS owner, o.name AS owner_name,
           sy.name AS system, s.type, s.lifecycle, s.tier, s.language, s.repository_url,
           s.strategy, tp.name || ' v' || tp.version AS template, s.updated_at,
           ARRAY(SELECT t.name FROM catalog_service_tags st JOIN catalog_tag t ON t.id = st.tag_id
                 WHERE st.service_id = s.id ORDER BY t.name) AS tags
    FROM matching s
    JOIN accounts_team o ON o.id = s.owner_id
    LEFT JOIN catalog_system sy ON sy.id = s.system_id
    LEFT JOIN catalog_goldenpathtemplate tp ON tp.id = s.template_id
    ORDER BY s.updated_at DESC, s.name
    LIMIT 50
"""


def catalog_params(q: str) -> dict:
    return {"like": f"%{q}%", "lifecycle": "production", "type": "service"}


CATALOG_PAGE = f"""
    WITH matching AS MATERIALIZED (SELECT s.* FROM catalog_service s WHERE {SEARCH}),
    page AS ({PAGE_ROWS}),
    facets AS (
        SELECT o.slug AS owner, s.lifecycle, s.tier, s.type, s.strategy, count(*) AS n
        FROM matching s JOIN accounts_team o ON o.id = s.owner_id
        GROUP BY GROUPING SETS ((o.slug), (s.lifecycle), (s.tier), (s.type), (s.strategy))
    )
    SELECT (SELECT json_agg(page) FROM page), (SELECT count(*) FROM matching),
           (SELECT json_agg(facets) FROM facets),
           (SELECT json_agg(json_build_array(slug, name) ORDER BY slug) FROM accounts_team),
           (SELECT json_agg(json_build_array(name, title) ORDER BY name) FROM catalog_system)
"""  # noqa: S608 (constant fragments of this module; values are parameters)

CATALOG_API = f"""
    WITH matching AS MATERIALIZED (SELECT s.* FROM catalog_service s WHERE {SEARCH}),
    page AS ({PAGE_ROWS})
    SELECT (SELECT json_agg(page) FROM page), (SELECT count(*) FROM matching)
"""  # noqa: S608

SERVICE_DETAIL = """
    WITH RECURSIVE
    me AS (SELECT s.*, o.slug AS owner_slug, o.name AS owner_name, sy.name AS system_name
           FROM catalog_service s JOIN accounts_team o ON o.id = s.owner_id
           LEFT JOIN catalog_system sy ON sy.id = s.system_id WHERE s.name = %(name)s),
    up(id, depth) AS (
        SELECT d.target_service_id, 1 FROM catalog_dependency d, me
        WHERE d.source_id = me.id AND d.target_service_id IS NOT NULL
        UNION
        SELECT d.target_service_id, up.depth + 1 FROM catalog_dependency d JOIN up
        ON d.source_id = up.id WHERE up.depth < 3 AND d.target_service_id IS NOT NULL
    ),
    down(id, depth) AS (
        SELECT d.source_id, 1 FROM catalog_dependency d, me WHERE d.target_service_id = me.id
        UNION
        SELECT d.source_id, down.depth + 1 FROM catalog_dependency d JOIN down
        ON d.target_service_id = down.id WHERE down.depth < 3
    ),
    graph AS (
        SELECT 'up' AS direction, id, min(depth) AS depth FROM up GROUP BY id
        UNION ALL
        SELECT 'down', id, min(depth) FROM down GROUP BY id
    )
    SELECT row_to_json(me),
        (SELECT json_agg(t.name ORDER BY t.name) FROM catalog_service_tags st
         JOIN catalog_tag t ON t.id = st.tag_id WHERE st.service_id = me.id),
        (SELECT json_agg(json_build_object('name', e.name, 'kind', e.kind, 'cluster', c.name,
                'namespace', e.namespace, 'replicas', e.replicas) ORDER BY e."order")
         FROM catalog_environment e LEFT JOIN catalog_cluster c ON c.id = e.cluster_id
         WHERE e.service_id = me.id),
        (SELECT json_agg(json_build_object('direction', g.direction, 'name', s.name,
                'title', s.title, 'owner', o.slug, 'depth', g.depth)
                ORDER BY g.direction, g.depth, s.name)
         FROM (SELECT * FROM graph ORDER BY depth LIMIT 1000) g
         JOIN catalog_service s ON s.id = g.id
         JOIN accounts_team o ON o.id = s.owner_id WHERE g.id <> me.id),
        (SELECT json_agg(a) FROM (SELECT occurred_at, actor_label, action, after
             FROM audit_auditevent WHERE target_type = 'catalog.service'
             AND target_id = me.id::text ORDER BY id DESC LIMIT 20) a),
        (SELECT json_agg(r) FROM (SELECT r.id, r.version, r.state, r.planned_start, e.name,
             u.username FROM releases_release r JOIN catalog_environment e
             ON e.id = r.environment_id JOIN accounts_user u ON u.id = r.requester_id
             WHERE r.service_id = me.id ORDER BY r.planned_start DESC LIMIT 8) r),
        (SELECT json_agg(x) FROM (SELECT ro.id, ro.state, ro.image FROM rollouts_rollout ro
             WHERE ro.service_id = me.id ORDER BY ro.created_at DESC LIMIT 10) x)
    FROM me
"""

CALENDAR = """
    SELECT
        (SELECT json_agg(r ORDER BY r.planned_start, r.id) FROM (
            SELECT r.id, r.version, r.title, r.state, r.planned_start, r.planned_end,
                   s.name AS service, o.slug AS owner, e.name AS environment, e.kind,
                   u.username AS requester
            FROM releases_release r JOIN catalog_service s ON s.id = r.service_id
            JOIN accounts_team o ON o.id = s.owner_id
            JOIN catalog_environment e ON e.id = r.environment_id
            JOIN accounts_user u ON u.id = r.requester_id
            WHERE r.planned_start < %(end)s AND r.planned_end > %(start)s AND o.slug = %(team)s
        ) r),
        (SELECT json_agg(f) FROM releases_freeze f
         WHERE f.deleted_at IS NULL AND f.starts_at < %(end)s
           AND (f.ends_at > %(start)s OR f.rrule <> '')),
        (SELECT json_agg(w) FROM releases_changewindow w
         WHERE w.is_active AND w.deleted_at IS NULL),
        (SELECT json_agg(s.name ORDER BY s.name) FROM catalog_service s
         JOIN accounts_team o ON o.id = s.owner_id WHERE o.slug = %(team)s),
        (SELECT json_agg(json_build_array(slug, name) ORDER BY name) FROM accounts_team)
"""

INBOX = """
    WITH candidates AS (
        SELECT r.* FROM releases_release r
        WHERE r.state = 'pending_approval'
           OR (r.change_type = 'emergency' AND r.retrospective_due_at IS NOT NULL
               AND r.retrospective_done_at IS NULL
               AND r.state NOT IN ('rejected', 'cancelled'))
        ORDER BY r.planned_start LIMIT 200
    )
    SELECT json_agg(json_build_object(
        'release', c.id, 'service', s.name, 'environment', e.name, 'kind', e.kind,
        'tier', s.tier, 'requester', u.username,
        'commits', (SELECT json_agg(json_build_array(rc.sha, rc.author))
                    FROM releases_releasecommit rc WHERE rc.release_id = c.id),
        'approvals', (SELECT json_agg(json_build_array(a.approver_id, a.decision, a.rule_id))
                      FROM releases_approval a WHERE a.release_id = c.id
                      AND a.invalidated_at IS NULL),
        'previous', (SELECT p.version FROM releases_release p
                     WHERE p.environment_id = c.environment_id AND p.state = 'succeeded'
                     AND p.id <> c.id ORDER BY p.finished_at DESC NULLS LAST, p.id DESC LIMIT 1),
        'history', (SELECT json_agg(h.version) FROM (SELECT h.version FROM releases_release h
                    WHERE h.environment_id = c.environment_id AND h.id <> c.id
                    ORDER BY h.planned_start DESC, h.id DESC LIMIT 5) h)
    ) ORDER BY c.planned_start)
    FROM candidates c JOIN catalog_service s ON s.id = c.service_id
    JOIN catalog_environment e ON e.id = c.environment_id
    JOIN accounts_user u ON u.id = c.requester_id
"""

# The DORA figures: weekly counts from the roll-up; medians of counted lead times (LeadTime),
# incidents' and rollbacks' recovery, all in one statement, with the application's rules.
_DORA = """
    WITH weekly AS (
        SELECT date_trunc('week', r.day)::date AS week, sum(r.deployments) AS deployments,
               sum(r.failures) AS failures, count(DISTINCT r.day) AS days
        FROM insights_dailydeploymentrollup r
        WHERE r.is_production AND r.day BETWEEN %(first)s AND %(last)s {rollup_scope}
        GROUP BY 1
    ),
    counted AS (
        SELECT seconds AS v FROM insights_leadtime d
        WHERE deployed_at >= %(lower)s AND deployed_at < %(upper)s {fact_scope}
    ),
    incidents AS (
        SELECT recovery_seconds AS v FROM insights_incidentfact d
        WHERE resolved_at >= %(lower)s AND resolved_at < %(upper)s
          AND recovery_seconds IS NOT NULL {fact_scope}
    ),
    rollbacks AS (
        SELECT recovery_seconds AS v FROM insights_deploymentfact d
        WHERE is_production AND rolled_back_at >= %(lower)s AND rolled_back_at < %(upper)s
          AND recovery_seconds IS NOT NULL {fact_scope}
    )
    SELECT (SELECT json_agg(weekly ORDER BY week) FROM weekly),
           (SELECT json_build_array(percentile_cont(0.5) WITHIN GROUP (ORDER BY v), count(*))
            FROM counted),
           (SELECT json_build_array(percentile_cont(0.5) WITHIN GROUP (ORDER BY v), count(*))
            FROM incidents),
           (SELECT json_build_array(percentile_cont(0.5) WITHIN GROUP (ORDER BY v), count(*))
            FROM rollbacks),
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v)
            FROM (SELECT v FROM incidents UNION ALL SELECT v FROM rollbacks) r)
"""
_SCOPES = {
    "org": "",
    "team": "AND {alias}.service_id IN (SELECT s.id FROM catalog_service s "
    "JOIN accounts_team t ON t.id = s.owner_id WHERE t.slug = %(name)s)",
    "service": "AND {alias}.service_id = (SELECT id FROM catalog_service WHERE name = %(name)s)",
}


def dora(scope: str) -> str:
    """The statement for one scope: the filter written in, as the ORM writes it, so the planner
    sees the query it will run."""
    condition = _SCOPES[scope]
    return _DORA.format(
        rollup_scope=condition.format(alias="r"), fact_scope=condition.format(alias="d")
    )


def dora_params(scope: str, name: str, first: date, last: date) -> dict:
    return {
        "scope": scope,
        "name": name,
        "first": first,
        "last": last,
        "lower": datetime.combine(first, time.min, tzinfo=UTC),
        "upper": datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC),
    }


def calendar_params(team: str, today: date) -> dict:
    """The days the month view shows: whole weeks from the Monday before the 1st."""
    month = today.replace(day=1)
    next_month = (month + timedelta(days=31)).replace(day=1)
    month_end = next_month - timedelta(days=1)
    first = month - timedelta(days=month.weekday())
    last = month_end + timedelta(days=6 - month_end.weekday())
    return {
        "team": team,
        "start": datetime.combine(first, time.min, tzinfo=UTC),
        "end": datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC),
    }
