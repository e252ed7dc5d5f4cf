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


def person_keys(login: str, email: str, full_name: str, aliases=()) -> set[str]:
    """The keys a person is known by: their login, e-mail and full name, and their aliases
    as (kind, value) pairs."""
    keys = {f"login:{login.lower()}"}
    if email:
        keys |= email_keys(email)
    if full_name.strip():
        keys.add(f"name:{_squash(full_name)}")
    for kind, value in aliases:
        keys |= email_keys(value) if kind == Alias.Kind.EMAIL else {f"login:{value}"}
    return keys


def user_keys(user) -> set[str]:
    """A person's keys; kept on the user object for the rest of the request."""
    cached = getattr(user, "_identity_keys", None)
    if cached is None:
        aliases = Alias.objects.filter(user=user).values_list("kind", "value")
        cached = person_keys(user.username, user.email, user.get_full_name(), aliases)
        user._identity_keys = cached
    return cached


def unknown_authors(authors: list[str]) -> list[str]:
    """The authors no active person is known by, in two queries whatever their number."""
    keys_of = {author: author_keys(author) for author in authors}
    values = {key.split(":", 1)[1] for keys in keys_of.values() for key in keys}
    known = set()
    if values:
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
            known |= person_keys(login, mail, full_name)
        aliases = Alias.objects.filter(user__is_active=True, value__in=values)
        known |= person_keys("", "", "", aliases.values_list("kind", "value")) - {"login:"}
    return sorted(author for author, keys in keys_of.items() if not keys & known)
