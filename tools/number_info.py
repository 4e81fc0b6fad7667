"""What libphonenumber's own data says about a number, offline: its type, country and carrier.

Pure functions over ``phonenumbers`` (its metadata, carrier and geocoding tables ship with the
package): no network, nothing from a provider's lookup API.
"""
import phonenumbers
from phonenumbers import PhoneNumberType, carrier

NUMBER_TYPES = [
    ('mobile', 'Mobile'), ('fixed', 'Fixed line'), ('fixed_or_mobile', 'Fixed line or mobile'),
    ('voip', 'VoIP'), ('toll_free', 'Toll-free'), ('premium_rate', 'Premium rate'),
    ('shared_cost', 'Shared cost'), ('other', 'Other'), ('unknown', 'Unknown'),
]
LIBPHONENUMBER_TO_TYPE = {
    PhoneNumberType.MOBILE: 'mobile', PhoneNumberType.FIXED_LINE: 'fixed',
    PhoneNumberType.FIXED_LINE_OR_MOBILE: 'fixed_or_mobile', PhoneNumberType.VOIP: 'voip',
    PhoneNumberType.TOLL_FREE: 'toll_free', PhoneNumberType.PREMIUM_RATE: 'premium_rate',
    PhoneNumberType.SHARED_COST: 'shared_cost', PhoneNumberType.PERSONAL_NUMBER: 'other',
    PhoneNumberType.PAGER: 'other', PhoneNumberType.UAN: 'other', PhoneNumberType.VOICEMAIL: 'other',
}
# types that cannot receive a text message
NOT_TEXTABLE = ('fixed', 'toll_free', 'premium_rate', 'shared_cost')


def number_info(number):
    """``(type, region, carrier)`` of an E.164 ``number``: a key of :data:`NUMBER_TYPES`, the ISO
    country code (``''`` when unknown) and the original carrier's name (``''`` when libphonenumber
    does not know it, or the number was ported); ``None`` for what is no phone number."""
    if not number or not number.startswith('+'):
        return None
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed) or ''
    if not phonenumbers.is_valid_number(parsed):
        return 'unknown', region, ''
    kind = LIBPHONENUMBER_TO_TYPE.get(phonenumbers.number_type(parsed), 'unknown')
    return kind, region, carrier.name_for_number(parsed, 'en') or ''
