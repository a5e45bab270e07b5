"""A CSV report's response contract: the file is checked as the list of its rows (each
the header's column names mapped to the row's values), so a report that loses a column
or writes an unknown record type is a contract finding, as a JSON body's would be."""

from __future__ import annotations

from paysandbox import contracts
from paysandbox.providers.adyen import reports

OPERATION = "download_settlement_detail_report"


def _report(**values: str) -> bytes:
    line = {"Company Account": "TestCompany", "Merchant Account": "TestMerchant",
            "Creation Date": "2026-01-02 00:00:00", "TimeZone": "UTC",
            "Type": "MerchantPayout", "Net Currency": "EUR", "Net Debit (NC)": "12.34",
            "Batch Number": "1", **values}
    rows = [",".join(reports.COLUMNS), ",".join(line.get(c, "") for c in reports.COLUMNS)]
    return ("\n".join(rows) + "\n").encode()


def test_a_report_as_adyen_writes_it_keeps_its_contract() -> None:
    assert contracts.response_problems("adyen", OPERATION, 200, _report(),
                                       "text/csv") == []


def test_an_unknown_record_type_or_a_missing_column_is_a_finding() -> None:
    (bad,) = contracts.response_problems("adyen", OPERATION, 200, _report(Type="Payout"),
                                         "text/csv")
    assert bad.violation.path == (0, "Type")
    short = b"Company Account,Merchant Account\nTestCompany,TestMerchant\n"
    assert contracts.response_problems("adyen", OPERATION, 200, short, "text/csv")


def test_a_report_that_is_not_text_is_a_finding() -> None:
    (bad,) = contracts.response_problems("adyen", OPERATION, 200, b"\xff\xfe", "text/csv")
    assert bad.violation.message == "is not CSV"
