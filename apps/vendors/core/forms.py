"""The vendor account form: the vendor's own settings as fields, secrets write-only."""
from __future__ import annotations

from functools import cache

from django import forms

from .models import VendorAccount
from .registry import ADAPTERS, adapter_class

SETTING_PREFIX = "setting__"


class VendorAccountForm(forms.ModelForm):
    """The fields every account has. `form_for_vendor` adds the vendor's settings.

    Secret settings use a password input that never renders the stored value;
    left blank, the stored secret is kept. The vendor is fixed once the account
    exists, because its settings differ.
    """

    vendor_kind: str | None = None

    class Meta:
        model = VendorAccount
        fields = ["name", "vendor", "dealer", "environment", "base_url", "token_url", "enabled",
                  "pull_interval_minutes", "alert_emails"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A user who may only view the account (dealer staff) gets a form whose
        # fields the admin removed (all read-only): touch only the fields there.
        fields = self.fields
        if self.instance.pk and "vendor" in fields:
            fields["vendor"].disabled = True
        if not self.vendor_kind:
            if "vendor" in fields:
                fields["vendor"].help_text = "Choose the vendor and save; its credential fields then appear."
            if "environment" in fields:
                fields["environment"].widget = forms.HiddenInput()
            return
        if "vendor" in fields:
            fields["vendor"].initial = self.vendor_kind
        stored = self.instance.secrets if self.instance.pk else None
        for setting in adapter_class(self.vendor_kind).settings_fields:
            field = fields.get(SETTING_PREFIX + setting.key)
            if field is None:
                continue
            if setting.secret:
                is_set = bool(stored) and setting.key in stored
                field.required = setting.required and not is_set
                field.help_text = ("Stored encrypted (set). Leave blank to keep it. " if is_set
                                   else "Stored encrypted. ") + setting.help_text
            elif self.instance.pk:
                field.initial = (self.instance.options or {}).get(setting.key, setting.default)

    def clean(self):
        cleaned = super().clean()
        if self.vendor_kind and cleaned.get("vendor", self.vendor_kind) != self.vendor_kind:
            self.add_error("vendor", "Save the account first with this vendor; its settings differ.")
            return cleaned
        if not self.vendor_kind:
            return cleaned
        preset = adapter_class(self.vendor_kind).endpoint_presets.get(cleaned.get("environment") or "custom")
        if preset:
            # The document's URLs win over whatever the URL fields held.
            cleaned["base_url"], cleaned["token_url"] = preset.base_url, preset.token_url
            self.instance.base_url, self.instance.token_url = preset.base_url, preset.token_url
        elif not cleaned.get("base_url"):
            self.add_error("base_url", "Enter the vendor's base URL, or choose a preset.")
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if self.vendor_kind and not self.errors:
            values = {key[len(SETTING_PREFIX):]: value for key, value in self.cleaned_data.items()
                      if key.startswith(SETTING_PREFIX)}
            self.instance.set_settings(values)


@cache
def form_for_vendor(kind: str | None) -> type[VendorAccountForm]:
    """A VendorAccountForm with one declared field per setting of the vendor."""
    if kind not in ADAPTERS:
        return VendorAccountForm
    cls = adapter_class(kind)
    attrs = {"vendor_kind": kind}
    presets = [("custom", "Custom URLs")] + [(k, p.label) for k, p in cls.endpoint_presets.items()]
    attrs["environment"] = forms.ChoiceField(choices=presets, initial="custom",
                                             help_text="A preset takes the URLs from the vendor's document.")
    attrs["base_url"] = forms.CharField(required=False, max_length=500,
                                        help_text=VendorAccount._meta.get_field("base_url").help_text)
    for setting in cls.settings_fields:
        if setting.secret:
            attrs[SETTING_PREFIX + setting.key] = forms.CharField(
                label=setting.label, required=setting.required, strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
        else:
            attrs[SETTING_PREFIX + setting.key] = forms.CharField(
                label=setting.label, required=setting.required, help_text=setting.help_text,
                initial=setting.default)
    return type(f"{cls.__name__}AccountForm", (VendorAccountForm,), attrs)
