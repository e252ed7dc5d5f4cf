from django import forms


class MarkBadForm(forms.Form):
    version = forms.CharField(max_length=300)
    reason = forms.CharField(max_length=2000, label="Why")


class PinForm(forms.Form):
    version = forms.CharField(max_length=300)
    reason = forms.CharField(max_length=2000, label="Why")


class LiftForm(forms.Form):
    reason = forms.CharField(max_length=2000, label="Why lift it")


# Each form of the panel has a prefix of its own: its fields' ids are unique on the page.
def pin_form(environment: str, data=None, **kwargs) -> PinForm:
    return PinForm(data, prefix=f"pin-{environment}", **kwargs)


def lift_form(pin, data=None) -> LiftForm | None:
    return None if pin is None else LiftForm(data, prefix=f"lift-{pin.pk}")
