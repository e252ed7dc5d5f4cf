import factory

from apps.accounts.models import Role, RoleGrant, Team, TeamMembership, User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted: list[Role] | None, **kwargs):
        for role in extracted or []:
            RoleGrant.objects.get_or_create(user=self, role=role)
        self.save()

    @factory.post_generation
    def teams(self, create, extracted: list[Team] | None, **kwargs):
        for team in extracted or []:
            TeamMembership.objects.get_or_create(user=self, team=team)


class ServiceAccountFactory(factory.django.DjangoModelFactory):
    """CI's identity: reports checks for the teams given as `reports_for`. Tests of creating
    one go through apps.accounts.services.service_account_create instead."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"ci-{n}")
    is_service_account = True
    password = factory.PostGenerationMethodCall("set_unusable_password")

    @factory.post_generation
    def reports_for(self, create, extracted: list[Team] | None, **kwargs):
        self.save()
        self.reports_checks_for.add(*(extracted or []))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class ServiceFactory(factory.django.DjangoModelFactory):
    """A catalog row written directly, for tests that need many services quickly. Tests of
    creating services go through apps.catalog.services.service_create instead."""

    class Meta:
        model = "catalog.Service"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"svc-{n}")
    title = factory.LazyAttribute(lambda s: s.name.replace("-", " ").title())
    owner = factory.SubFactory(TeamFactory)
