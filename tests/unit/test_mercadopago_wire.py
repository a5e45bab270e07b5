"""Mercado Pago's wire pieces: the PIX BR Code and its PNG, boleto numbers, decline
codes, test names, and the webhook signature."""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib
from datetime import date

import segno

from paysandbox.core.outcomes import DeclineReason, OutcomeKind
from paysandbox.providers.mercadopago import boleto, magic, pix, wire


def test_crc16_is_ccitt_false() -> None:
    assert pix.crc16(b"123456789") == 0x29B1  # the standard check value


def test_a_br_code_decodes_into_the_emv_fields_and_its_crc_checks() -> None:
    code = pix.br_code(key="shop@example.com", amount="123.45", txid="MP-1234",
                       merchant_name="Loja São João", merchant_city="São Paulo")

    fields = pix.parse_tlv(code)
    tags = dict(fields)
    assert [t for t, _ in fields] == ["00", "01", "26", "52", "53", "54", "58", "59", "60",
                                      "62", "63"]
    assert tags["00"] == "01"
    assert dict(pix.parse_tlv(tags["26"])) == {"00": "br.gov.bcb.pix", "01": "shop@example.com"}
    assert (tags["52"], tags["53"], tags["54"], tags["58"]) == ("0000", "986", "123.45", "BR")
    assert (tags["59"], tags["60"]) == ("LOJA SAO JOAO", "SAO PAULO")
    assert dict(pix.parse_tlv(tags["62"])) == {"05": "MP1234"}
    assert code[-8:-4] == "6304"
    assert tags["63"] == f"{pix.crc16(code[:-4].encode()):04X}"


def _png_modules(png: bytes, scale: int) -> list[list[bool]]:
    """Decode a 1-bit greyscale PNG (as segno writes it) back to its module grid."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(png):
        size, kind = struct.unpack(">I4s", png[pos:pos + 8])
        chunk = png[pos + 8:pos + 8 + size]
        if kind == b"IHDR":
            width, _, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert (depth, colour) == (1, 0)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + size
    raw, row_bytes = zlib.decompress(idat), (width + 7) // 8
    rows, prev = [], bytes(row_bytes)
    for i in range(0, len(raw), row_bytes + 1):
        kind, line = raw[i], bytearray(raw[i + 1:i + 1 + row_bytes])
        for j in range(row_bytes):  # PNG filters that segno may use: none, sub, up
            if kind == 1 and j:
                line[j] = (line[j] + line[j - 1]) & 0xFF
            elif kind == 2:
                line[j] = (line[j] + prev[j]) & 0xFF
        prev = bytes(line)
        rows.append([not (line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
    return [row[::scale] for row in rows[::scale]]


def test_the_png_decodes_back_to_the_qr_of_the_payload() -> None:
    code = pix.br_code(key="k@example.com", amount="1.00", txid="T1", merchant_name="A",
                       merchant_city="B")

    modules = _png_modules(pix.qr_png(code, scale=1), 1)

    expected = [[bool(m) for m in row] for row in segno.make(code, error="m").matrix]
    assert modules[4:-4] and [row[4:-4] for row in modules[4:-4]] == expected


def test_the_due_date_factor_and_its_2025_reset() -> None:
    assert boleto.due_factor(date(2000, 7, 3)) == 1000
    assert boleto.due_factor(date(2025, 2, 21)) == 9999
    assert boleto.due_factor(date(2025, 2, 22)) == 1000
    assert boleto.due_factor(date(2025, 2, 23)) == 1001


def test_a_published_boleto_barcode_gives_its_published_digitable_line() -> None:
    # FEBRABAN's layout example (Banco do Brasil), check digits included.
    code = "00193373700000001000500940144816060680935031"

    assert boleto.mod11(code[:4] + code[5:]) == 3
    assert boleto.formatted(boleto.digitable_line(code)) == \
        "00190.50095 40144.816069 06809.350314 3 37370000000100"


def test_a_generated_boleto_is_self_consistent() -> None:
    code = boleto.barcode(cents=12345, due=date(2026, 1, 10),
                          free_field=boleto.bradesco_free_field(98765432101))
    line = boleto.digitable_line(code)

    assert len(code) == 44 and len(line) == 47
    assert code[:3] == "237" and code[3] == "9"
    assert code[5:9] == f"{boleto.due_factor(date(2026, 1, 10)):04d}"
    assert code[9:19] == "0000012345"
    for start, end in ((0, 9), (10, 20), (21, 31)):
        assert line[end] == str(boleto.mod10(line[start:end]))


def test_every_decline_reason_has_a_status_detail() -> None:
    table = wire.codes()
    for reason in DeclineReason:
        entry = table[reason.value]
        assert entry["status"] == "rejected"
        assert entry["status_detail"].startswith(("cc_rejected_", "cc_amount_"))
        assert entry["message"]
    assert table["insufficient_funds"]["status_detail"] == "cc_rejected_insufficient_amount"


def test_cardholder_test_names() -> None:
    assert magic.outcome_for_cardholder("apro").kind is OutcomeKind.APPROVE
    assert magic.outcome_for_cardholder("CONT").kind is OutcomeKind.PENDING
    fund = magic.outcome_for_cardholder("FUND Tester")
    assert fund.reason is DeclineReason.INSUFFICIENT_FUNDS
    assert fund.native_code == "cc_rejected_insufficient_amount"
    assert magic.outcome_for_cardholder(None).kind is OutcomeKind.APPROVE


def test_the_signature_is_the_documented_manifest() -> None:
    header = wire.signature_header("123456", "req-1", "s3cret", 1704908010)

    manifest = b"id:123456;request-id:req-1;ts:1704908010;"
    expected = hmac.new(b"s3cret", manifest, hashlib.sha256).hexdigest()
    assert header == f"ts=1704908010,v1={expected}"


def test_amounts_convert_with_the_currency_s_decimals() -> None:
    assert wire.to_minor(100.5, "BRL") == 10050
    assert wire.to_minor(1500, "CLP") == 1500
    assert wire.amount(10050, "BRL") == 100.5
    assert wire.amount(10000, "BRL") == 100
