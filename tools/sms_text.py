"""SMS text facts, pure Python: the GSM-7 alphabet and how many parts a body is sent as."""
import math

# GSM 03.38 basic + extension tables: anything else is sent as 'unicode' (70 chars / part).
GSM7 = frozenset(
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ'
    'ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà' '\f^{}\\[~]|€')


def sms_segments(body):
    """How many SMS a body is sent as: 160 GSM-7 characters (153 per part when split), else 70
    UCS-2 characters (67 per part)."""
    length = len(body or '')
    single, part = (160, 153) if set(body or '') <= GSM7 else (70, 67)
    return 1 if length <= single else math.ceil(length / part)
