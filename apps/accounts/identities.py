"""Who wrote a commit: matching an author string to the people Runway knows.

Authors arrive as `Name <email>`, a bare e-mail or a bare name (or login). A person is known by
their username (as a VCS login), their e-mail, their full name and the aliases they list on
their profile (other e-mails and logins). E-mails compare without case, and GitHub's noreply
addresses (`123+login@users.noreply.github.com`) are the login they stand for.

Each side becomes a set of keys (`email:…`, `login:…`, `name:…`); an author and a person match
when they share one."""

import re
from email.utils import parseaddr

from django.db.models import Q, Value
from django.db.models.functions import Concat, Lower, Trim

from apps.accounts.models import Alias, User

GITHUB_NOREPLY = re.compile(r"^(?:\d+\+)?(?P<login>[^@+]+)@users\.noreply\.github\.com$")


def _squash(text: str) -> str:
    return " ".join(text.split()).lower()


def email_keys(address: str) -> set[str]:
    address = address.strip().lower()
    noreply = GITHUB_NOREPLY.match(address)
    return {f"login:{noreply['login']}"} if noreply else {f"email:{address}"}


def author_keys(author: str) -> set[str]:
    """The keys an author string can be known by."""
    text = author.strip()
    if "<" in text:
        name, address = parseaddr(text)
        keys = email_keys(address) if "@" in address else set()
        return keys | ({f"name:{_squash(name)}"} if name.strip() else set())
    if "@" in text:
        return email_keys(text)
    # A bare word is a name or a login; several words, a name.
    keys = {f"name:{_squash(text)}"} if text else set()
    return keys | ({f"login:{text.lower()}"} if text and " " not in text else set())


def user_keys(user) -> set[str]:
    """The keys a person is known by; kept on the user object for the rest of the request."""
    cached = getattr(user, "_identity_keys", None)
    if cached is not None:
        return cached
    keys = {f"login:{user.username.lower()}"}
    if user.email:
        keys |= email_keys(user.email)
    if user.get_full_name().strip():
        keys.add(f"name:{_squash(user.get_full_name())}")
    for kind, value in Alias.objects.filter(user=user).values_list("kind", "value"):
        keys |= email_keys(value) if kind == Alias.Kind.EMAIL else {f"login:{value}"}
    user._identity_keys = keys
    return keys


def unknown_authors(authors: list[str]) -> list[str]:
    """The authors no active person is known by, in two queries whatever their number."""
    keys_of = {author: author_keys(author) for author in authors}
    wanted = set().union(*keys_of.values()) if keys_of else set()
    values = {key.split(":", 1)[1] for key in wanted}
    if not values:
        return sorted(author for author, keys in keys_of.items() if not keys)
    known = set()
    people = (
        User.objects.filter(is_active=True)
        .annotate(
            login=Lower("username"),
            mail=Lower("email"),
            full_name=Lower(Trim(Concat("first_name", Value(" "), "last_name"))),
        )
        .filter(Q(login__in=values) | Q(mail__in=values) | Q(full_name__in=values))
        .values_list("login", "mail", "full_name")
    )
    for login, mail, full_name in people:
        known |= {f"login:{login}", f"name:{_squash(full_name)}"}
        known |= email_keys(mail) if mail else set()
    aliases = Alias.objects.filter(user__is_active=True, value__in=values)
    for kind, value in aliases.values_list("kind", "value"):
        known |= email_keys(value) if kind == Alias.Kind.EMAIL else {f"login:{value}"}
    return sorted(author for author, keys in keys_of.items() if not keys & known)
