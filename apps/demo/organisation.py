"""The demo's organisation (apps.demo.world) written through Runway's services, with their audit
rows: teams, one user per role and the CI account, golden-path templates, systems, services and
their dependencies. Safe to run again: what exists is left as it is."""

from apps.accounts.models import Role, RoleGrant, Team, TeamMembership, User
from apps.catalog import services
from apps.catalog.models import GoldenPathTemplate, Resource, Service, System
from apps.demo.world import DEMO_PASSWORD, Organisation, organisation


def load(world: Organisation | None = None) -> list[str]:
    """Returns what it created."""
    world = world or organisation()
    created = _people(world)
    created += _catalog(world)
    return created


def _people(world: Organisation) -> list[str]:
    created: list[str] = []
    teams = {}
    for spec in world.teams:
        teams[spec.slug], was_created = Team.objects.get_or_create(
            slug=spec.slug, defaults={"name": spec.name, "description": spec.description}
        )
        if was_created:
            created.append(f"team {spec.slug}")
    for person in world.people:
        if person.is_service_account:
            account, was_created = User.objects.get_or_create(
                username=person.username, defaults={"is_service_account": True}
            )
            if was_created:
                account.set_unusable_password()
                account.save()
                created.append(f"service account {person.username}")
            account.reports_checks_for.add(*(teams[slug] for slug in person.reports_checks_for))
            continue
        first, last = person.first_and_last_name
        user, was_created = User.objects.get_or_create(
            username=person.username,
            defaults={"first_name": first, "last_name": last, "email": person.email},
        )
        if was_created:
            user.set_password(DEMO_PASSWORD)
            if Role.PLATFORM_ADMIN in person.roles:
                user.is_staff = user.is_superuser = True
            user.save()
            created.append(f"user {person.username}")
        for role in person.roles:
            RoleGrant.objects.get_or_create(user=user, role=role)
        for slug in person.teams:
            TeamMembership.objects.get_or_create(user=user, team=teams[slug])
    return created


def _catalog(world: Organisation) -> list[str]:
    created: list[str] = []
    admin = User.objects.get(username="admin")
    for spec in world.templates:
        _, was_created = GoldenPathTemplate.objects.get_or_create(
            name=spec.name,
            version=spec.version,
            defaults={
                "title": spec.title,
                "description": spec.description,
                "language": spec.language,
                "container_port": spec.container_port,
                "strategy": spec.strategy,
                "strategy_params": spec.strategy_params,
                "required_gates": list(spec.required_gates),
            },
        )
        if was_created:
            created.append(f"template {spec.name} v{spec.version}")
    golden = next((spec for spec in world.templates if spec.is_default), None)
    if golden is not None and not GoldenPathTemplate.objects.filter(is_default=True).exists():
        services.template_make_default(
            actor=admin,
            template=GoldenPathTemplate.objects.get(name=golden.name, version=golden.version),
        )
        created.append(f"default template {golden.name} v{golden.version}")
    for system in world.systems:
        if not System.objects.filter(name=system.name).exists():
            services.system_create(
                actor=admin,
                name=system.name,
                title=system.title,
                owner=Team.objects.get(slug=system.owner),
            )
            created.append(f"system {system.name}")
    for name, kind in world.resources:
        Resource.objects.get_or_create(name=name, defaults={"type": kind})
    # Services that others depend on first, so dependencies resolve.
    for service_spec in sorted(
        world.services, key=lambda service_spec: len(service_spec.depends_on)
    ):
        if Service.objects.filter(name=service_spec.name).exists():
            continue
        services.service_create(
            actor=admin,
            name=service_spec.name,
            title=service_spec.title,
            owner=Team.objects.get(slug=service_spec.owner),
            system=System.objects.get(name=service_spec.system) if service_spec.system else None,
            tier=service_spec.tier,
            lifecycle=service_spec.lifecycle,
            template=GoldenPathTemplate.objects.get(
                name=service_spec.template[0], version=service_spec.template[1]
            )
            if service_spec.template
            else None,
            strategy=service_spec.strategy,
            strategy_params=service_spec.strategy_params,
            image=service_spec.image,
            repository_url=service_spec.repository_url,
            runbook_url=service_spec.runbook_url,
            on_call=service_spec.on_call,
            tags=list(service_spec.tags),
            autoscale_max=service_spec.autoscale_max,
            pdb_min_available=service_spec.pdb_min_available,
            # The demo's services run on no cluster in particular (the cluster simulator's).
            environments=[
                {
                    "name": env.name,
                    "kind": env.kind,
                    "replicas": env.replicas,
                    "namespace": env.namespace,
                }
                for env in service_spec.environments
            ],
        )
        created.append(f"service {service_spec.name}")
    for service_spec in world.services:
        service = Service.objects.get(name=service_spec.name)
        if service_spec.depends_on and not service.dependencies.exists():
            services.service_dependencies_set(
                actor=admin,
                service=service,
                services=list(Service.objects.filter(name__in=service_spec.depends_on)),
            )
    return created
