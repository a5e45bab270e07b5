"""PIX copy-and-paste codes (BR Code) and their QR images.

A BR Code is an EMV QRCPS merchant-presented payload: TLV fields (two-digit id,
two-digit length, value) ending with a CRC16-CCITT over everything before it,
including the "6304" that introduces the CRC itself (Banco Central do Brasil,
"Manual de Padrões para Iniciação do Pix", appendix on the BR Code).
"""

from __future__ import annotations

import base64
import io
import unicodedata

import segno

GUI = "br.gov.bcb.pix"
#: Merchant category code "not informed", as PIX payloads use.
MCC = "0000"
BRL = "986"


def crc16(data: bytes) -> int:
    """CRC16-CCITT (poly 0x1021, initial 0xFFFF, no reflection, no final xor)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def tlv(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMV field {tag} is longer than 99 characters: {value!r}")
    return f"{tag}{len(value):02d}{value}"


def _ascii(text: str, limit: int) -> str:
    """Upper-case ASCII without accents: what every banking app can render."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.upper().split())[:limit] or "NA"


def br_code(*, key: str, amount: str, txid: str, merchant_name: str,
            merchant_city: str) -> str:
    """The copy-and-paste payload of a single-use PIX charge of `amount` (e.g. "10.50")."""
    account = tlv("00", GUI) + tlv("01", key)
    txid = "".join(c for c in txid if c.isalnum())[:25] or "***"
    payload = (tlv("00", "01") + tlv("01", "12") + tlv("26", account) + tlv("52", MCC)
               + tlv("53", BRL) + tlv("54", amount) + tlv("58", "BR")
               + tlv("59", _ascii(merchant_name, 25)) + tlv("60", _ascii(merchant_city, 15))
               + tlv("62", tlv("05", txid)) + "6304")
    return payload + f"{crc16(payload.encode()):04X}"


def parse_tlv(payload: str) -> list[tuple[str, str]]:
    """Split an EMV payload into (tag, value) pairs; ValueError if it is malformed."""
    out = []
    i = 0
    while i < len(payload):
        tag, size = payload[i:i + 2], payload[i + 2:i + 4]
        if len(tag) < 2 or not size.isdigit():
            raise ValueError(f"malformed TLV at offset {i}")
        value = payload[i + 4:i + 4 + int(size)]
        if len(value) != int(size):
            raise ValueError(f"field {tag} is truncated")
        out.append((tag, value))
        i += 4 + int(size)
    return out


def qr_png(payload: str, *, scale: int = 5) -> bytes:
    qr = segno.make(payload, error="m", micro=False)
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_png_base64(payload: str) -> str:
    return base64.b64encode(qr_png(payload)).decode()
