"""Word lists and the skew of the generated organisation (apps.demo.world): Zipf weights mixed
with a uniform share, so a few services are very busy and most are quiet."""

WORDS = """
falcon badger otter heron lynx marten osprey puffin quokka raven salmon tapir urchin vulture
walrus yak zebra alpaca bison cobra dingo egret ferret gecko hyena ibex jackal koala lemur
mongoose narwhal ocelot pelican quail rhino skunk toucan viper wombat beaver cougar dolphin
eland flamingo gopher hornet iguana jaguar kiwi llama magpie newt orca panda robin sloth turtle
unicorn vole weasel yeti amber basalt cobalt diamond emerald flint garnet jasper lapis marble
nickel onyx pearl quartz ruby sapphire topaz umber velvet walnut xenon yarrow zinnia acorn birch
cedar daisy elm fern ginkgo hazel iris juniper kelp lotus maple nettle oak poplar quince rowan
""".split()  # noqa: SIM905
ROLES = """
api worker gateway service web ui db-proxy cache indexer scheduler router auth billing ledger
notifier exporter importer sync feed search profile catalog checkout cart pricing inventory
shipping tracking reports analytics ingest stream batch cron admin portal proxy edge
""".split()  # noqa: SIM905
DOMAINS = ["payments", "identity", "logistics", "search", "growth", "platform", "data", "retail"]
LANGUAGES = ["python", "go", "java", "typescript", "kotlin", "rust", "ruby"]
TAGS = """
java python go node typescript rust kotlin grpc rest graphql kafka postgres mysql redis elastic
s3 k8s frontend backend batch streaming ml payments auth search infra internal pci gdpr edge
""".split()  # noqa: SIM905


def zipf(n: int, exponent: float, uniform_share: float) -> list[float]:
    zipf = [1.0 / (rank + 3) ** exponent for rank in range(n)]
    total = sum(zipf)
    return [(1 - uniform_share) * w / total + uniform_share / n for w in zipf]


def cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out
