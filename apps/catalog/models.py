from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

from apps.accounts.models import Team
from apps.core.validators import validate_links

# Kubernetes object names for Services and Deployments: an RFC 1123 DNS label.
dns_label_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit.",
)
quantity_validator = RegexValidator(
    r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$",
    "Use a Kubernetes quantity such as 250m, 0.5, 256Mi or 1Gi.",
)


class ServiceType(models.TextChoices):
    SERVICE = "service", "Service"
    WEBSITE = "website", "Website"
    WORKER = "worker", "Worker"
    CRONJOB = "cronjob", "Cron job"
    LIBRARY = "library", "Library"


class Lifecycle(models.TextChoices):
    EXPERIMENTAL = "experimental", "Experimental"
    PRODUCTION = "production", "Production"
    DEPRECATED = "deprecated", "Deprecated"


class Tier(models.IntegerChoices):
    CRITICAL = 1, "Tier 1 (critical)"
    IMPORTANT = 2, "Tier 2"
    STANDARD = 3, "Tier 3"


class Strategy(models.TextChoices):
    ROLLING = "rolling", "Rolling update"
    CANARY = "canary", "Canary"
    BLUE_GREEN = "blue-green", "Blue/green"


class EnvironmentKind(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class System(models.Model):
    """A group of services that deliver one product capability together."""

    name = models.CharField(max_length=63, unique=True, validators=[dns_label_validator])
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="systems"
    )
    domain = models.CharField(max_length=100, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.title or self.name


class GoldenPathTemplate(models.Model):
    """A versioned recipe for new services (e.g. python-web v3): the defaults it brings. One
    version at most is the default: the golden path the onboarding wizard starts from."""

    name = models.CharField(max_length=63, validators=[dns_label_validator])
    version = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    language = models.CharField(max_length=50, blank=True)
    container_port = models.PositiveIntegerField(
        default=8080, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    health_path = models.CharField(max_length=200, default="/healthz")
    cpu = models.CharField(max_length=20, default="250m", validators=[quantity_validator])
    memory = models.CharField(max_length=20, default="256Mi", validators=[quantity_validator])
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.ROLLING)
    strategy_params = models.JSONField(
        default=dict,
        blank=True,
        help_text="The strategy's parameters new services start from (apps/catalog/delivery.py): "
        "a canary's steps, a verification gate.",
    )
    is_default = models.BooleanField(
        default=False, help_text="The golden path: the version new services start from."
    )
    required_gates = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="template_version_unique"),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="template_one_default",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Tag(models.Model):
    name = models.CharField(max_length=63, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    name = models.CharField(max_length=63, unique=True, validators=[dns_label_validator])
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="services")
    system = models.ForeignKey(
        System, on_delete=models.SET_NULL, null=True, blank=True, related_name="services"
    )
    type = models.CharField(max_length=20, choices=ServiceType.choices, default=ServiceType.SERVICE)
    lifecycle = models.CharField(
        max_length=20, choices=Lifecycle.choices, default=Lifecycle.EXPERIMENTAL
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.STANDARD)
    language = models.CharField(max_length=50, blank=True)
    repository_url = models.URLField(max_length=500, blank=True)
    runbook_url = models.URLField(max_length=500, blank=True)
    on_call = models.CharField(max_length=200, blank=True, help_text="A rota, pager or channel.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="services")
    links = models.JSONField(default=list, blank=True, help_text="[{title, url}]")

    # Runtime: what the generated Kubernetes manifests are made of.
    image = models.CharField(max_length=300, blank=True)
    container_port = models.PositiveIntegerField(
        default=8080, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    replicas = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    cpu = models.CharField(max_length=20, default="250m", validators=[quantity_validator])
    memory = models.CharField(max_length=20, default="256Mi", validators=[quantity_validator])
    health_path = models.CharField(max_length=200, default="/healthz")
    autoscale_max = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="With a value, an HPA scales up to this many replicas."
    )
    pdb_min_available = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="With a value, a PodDisruptionBudget keeps this many up."
    )

    # Delivery
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.ROLLING)
    strategy_params = models.JSONField(default=dict, blank=True)
    template = models.ForeignKey(
        GoldenPathTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="services",
    )

    # The pipeline template (apps/catalog/pipelines.py) the service's CI last said it runs,
    # sent with each release it requests: `pipeline_template`@`pipeline_template_version`.
    pipeline_template = models.CharField(max_length=63, blank=True, editable=False)
    pipeline_template_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    pipeline_reported_at = models.DateTimeField(null=True, blank=True, editable=False)

    # What an import brought that has no field here (Backstage annotations, unknown keys).
    annotations = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    manifests = models.JSONField(default=list, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["owner", "name"], name="service_owner_idx"),
            models.Index(fields=["system", "name"], name="service_system_idx"),
            models.Index(fields=["tier", "name"], name="service_tier_idx"),
            models.Index(fields=["lifecycle", "name"], name="service_lifecycle_idx"),
            models.Index(fields=["type", "name"], name="service_type_idx"),
            models.Index(fields=["strategy", "name"], name="service_strategy_idx"),
            models.Index(fields=["-updated_at"], name="service_updated_idx"),
            models.Index(Lower("title"), name="service_title_lower_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str | list[str]] = {}
        try:
            validate_links(self.links)
        except ValidationError as exc:
            errors["links"] = exc.messages
        if self.autoscale_max is not None and self.autoscale_max < self.replicas:
            errors["autoscale_max"] = "The autoscaling maximum must be at least the replicas."
        if self.pdb_min_available is not None and self.pdb_min_available >= self.replicas:
            errors["pdb_min_available"] = (
                "Keep fewer pods available than the replicas, or nodes can never be drained."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def display_title(self) -> str:
        return self.title or self.name


class Cluster(models.Model):
    """A Kubernetes cluster that environments deploy to, reached through a kubeconfig."""

    name = models.CharField(max_length=63, unique=True, validators=[dns_label_validator])
    description = models.TextField(blank=True)
    kubeconfig_path = models.CharField(
        max_length=500, blank=True, help_text="Empty: Runway's default kubeconfig setting."
    )
    context = models.CharField(max_length=200, blank=True)
    in_cluster = models.BooleanField(default=False)
    server_version = models.CharField(
        max_length=100,
        blank=True,
        editable=False,
        help_text="The API server's version (gitVersion) when the connection was last checked.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


MAX_SOAK_SECONDS = 30 * 24 * 3600


class Environment(models.Model):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=63, validators=[dns_label_validator])
    kind = models.CharField(max_length=20, choices=EnvironmentKind.choices)
    order = models.PositiveSmallIntegerField(help_text="Promotion order: lower goes first.")
    cluster = models.ForeignKey(
        Cluster, on_delete=models.PROTECT, null=True, blank=True, related_name="environments"
    )
    namespace = models.CharField(max_length=63, validators=[dns_label_validator])
    replicas = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    soak_seconds = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_SOAK_SECONDS)],
        help_text="How long a version must run here without a failure or rollback before it "
        "may be promoted to the next environment (0: as soon as it succeeded).",
    )
    auto_promote = models.BooleanField(
        default=False,
        help_text="Once a release here succeeded and its soak is over, Runway itself asks the "
        "next environment for the same version (submitted for approval as any release).",
    )

    class Meta:
        ordering = ["service", "order"]
        constraints = [
            models.UniqueConstraint(fields=["service", "name"], name="environment_name_unique"),
            models.UniqueConstraint(fields=["service", "order"], name="environment_order_unique"),
        ]
        # The release calendar lists the few distinct names of thousands of environments by
        # stepping through this index, one name to the next (environment_names).
        indexes = [models.Index(fields=["name"], name="environment_name_idx")]

    def __str__(self) -> str:
        return f"{self.service.name}/{self.name}"

    @property
    def is_production(self) -> bool:
        return self.kind == EnvironmentKind.PRODUCTION


class Resource(models.Model):
    """Infrastructure a service depends on: a database, a bucket, a queue."""

    name = models.CharField(max_length=253, unique=True)
    type = models.CharField(max_length=63, blank=True)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="resources"
    )
    system = models.ForeignKey(
        System, on_delete=models.SET_NULL, null=True, blank=True, related_name="resources"
    )
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Api(models.Model):
    name = models.CharField(max_length=253, unique=True)
    type = models.CharField(max_length=63, blank=True)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    lifecycle = models.CharField(max_length=20, blank=True)
    owner = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="apis"
    )
    system = models.ForeignKey(
        System, on_delete=models.SET_NULL, null=True, blank=True, related_name="apis"
    )
    definition = models.TextField(blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API"

    def __str__(self) -> str:
        return self.name


class Dependency(models.Model):
    """A service depends on another service or a resource. Shown both ways on service pages."""

    source = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependencies")
    target_service = models.ForeignKey(
        Service, on_delete=models.CASCADE, null=True, blank=True, related_name="dependents"
    )
    target_resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, null=True, blank=True, related_name="dependents"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(target_service__isnull=False, target_resource__isnull=True)
                    | models.Q(target_service__isnull=True, target_resource__isnull=False)
                ),
                name="dependency_one_target",
            ),
            models.CheckConstraint(
                condition=~models.Q(source=models.F("target_service")),
                name="dependency_not_on_itself",
            ),
            models.UniqueConstraint(
                fields=["source", "target_service"],
                condition=models.Q(target_service__isnull=False),
                name="dependency_service_unique",
            ),
            models.UniqueConstraint(
                fields=["source", "target_resource"],
                condition=models.Q(target_resource__isnull=False),
                name="dependency_resource_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["target_service"], name="dependency_target_svc_idx"),
            models.Index(fields=["target_resource"], name="dependency_target_res_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} -> {self.target_service_id or self.target_resource_id}"


class ApiRelation(models.Model):
    class Kind(models.TextChoices):
        PROVIDES = "provides", "Provides"
        CONSUMES = "consumes", "Consumes"

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="api_relations")
    api = models.ForeignKey(Api, on_delete=models.CASCADE, related_name="service_relations")
    kind = models.CharField(max_length=10, choices=Kind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "api", "kind"], name="api_relation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.kind} {self.api_id}"


class ImportedEntity(models.Model):
    """A Backstage entity with no home in Runway's model (Domain, User, Location, other kinds),
    kept as it came so nothing in an imported file is lost."""

    kind = models.CharField(max_length=63)
    namespace = models.CharField(max_length=253, default="default")
    name = models.CharField(max_length=253)
    source = models.CharField(max_length=500, blank=True)
    document = models.JSONField()
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "namespace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "namespace", "name"], name="imported_entity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"
