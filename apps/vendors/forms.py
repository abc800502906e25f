"""The vendor account form: the vendor's own settings as fields, secrets write-only."""
from django import forms

from .models import VendorAccount
from .registry import ADAPTERS, adapter_class

SETTING_PREFIX = "setting__"


class VendorAccountForm(forms.ModelForm):
    """Adds one field per setting the account's vendor declares.

    Secret settings use a password input that never renders the stored value;
    left blank, the stored secret is kept. The vendor is fixed once the account
    exists, because its settings differ.
    """

    class Meta:
        model = VendorAccount
        fields = ["name", "vendor", "dealer", "environment", "base_url", "token_url", "enabled",
                  "pull_interval_minutes", "alert_emails"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        vendor = self.instance.vendor if self.instance.pk else (self.data.get("vendor") or self.initial.get("vendor"))
        self.vendor_kind = vendor if vendor in ADAPTERS else None
        if self.instance.pk:
            self.fields["vendor"].disabled = True
        if not self.vendor_kind:
            self.fields["vendor"].help_text = "Choose the vendor and save; its credentials fields then appear."
            return
        cls = adapter_class(self.vendor_kind)
        presets = [("custom", "Custom URLs")] + [(k, p.label) for k, p in cls.endpoint_presets.items()]
        self.fields["environment"] = forms.ChoiceField(choices=presets, initial="custom",
                                                       help_text="A preset fills the URLs from the vendor's document.")
        self.fields["base_url"].required = False
        stored_secrets = self.instance.secrets if self.instance.pk else None
        for setting in cls.settings_fields:
            name = SETTING_PREFIX + setting.key
            if setting.secret:
                is_set = bool(stored_secrets) and setting.key in stored_secrets
                self.fields[name] = forms.CharField(
                    label=setting.label, required=setting.required and not is_set, strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text=("Stored encrypted (set). Leave blank to keep it." if is_set else "Stored encrypted.")
                    + (" " + setting.help_text if setting.help_text else ""),
                )
            else:
                self.fields[name] = forms.CharField(
                    label=setting.label, required=setting.required, help_text=setting.help_text,
                    initial=(self.instance.options or {}).get(setting.key, setting.default),
                )

    def clean(self):
        cleaned = super().clean()
        if not self.vendor_kind:
            return cleaned
        cls = adapter_class(self.vendor_kind)
        preset = cls.endpoint_presets.get(cleaned.get("environment") or "custom")
        if preset:
            cleaned["base_url"] = preset.base_url
            cleaned["token_url"] = preset.token_url
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
