"""Seeded sample feeds for the demo and tests: realistic rows, a known share of bad ones.

``sample_feed`` returns the rows and how many of them are bad, so tests can assert the
numbers the pipeline reports.
"""

import csv
import random
from dataclasses import dataclass
from pathlib import Path

REGION_CURRENCY = {"BR": "BRL", "US": "USD", "AR": "ARS", "MX": "MXN"}


def gtin13(n: int, prefix: str = "789") -> str:
    """A valid EAN-13 (GS1 mod-10 check digit) from a running number."""
    body = f"{prefix}{n:09d}"[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class SampleFeed:
    marketplace: str
    category: str
    region: str
    rows: int
    bad_every: int  # every n-th record has one bad value

    @property
    def relpath(self) -> str:
        return f"{self.marketplace}/{self.category}/{self.region}/feed-{self.rows}.csv"

    @property
    def expected_errors(self) -> int:
        return self.rows // self.bad_every


DEMO_FEEDS = [
    SampleFeed("google_merchant", "electronics", "BR", 1200, 10),
    SampleFeed("google_merchant", "apparel", "US", 800, 25),
    SampleFeed("amazon", "electronics", "US", 500, 20),
    SampleFeed("mercado_livre", "home", "AR", 300, 15),
]

_BAD_GOOGLE = [
    ("price", "N/A"), ("price", "-3.50"), ("availability", "in stock"), ("link", "http://shop.example/p"),
    ("title", ""), ("condition", "broken"), ("id", "x" * 51),
]


def google_row(i: int) -> dict[str, str]:
    return {
        "id": f"SKU-{i:06d}",
        "title": f"Produto número {i} — edição especial",
        "description": "Descrição do produto com acentuação: ção, é, ü.",
        "link": f"https://shop.example/p/{i}",
        "image_link": f"https://img.example/{i}.jpg",
        "availability": ["in_stock", "out_of_stock", "preorder", "backorder"][i % 4],
        "price": f"{(i % 500) + 1}.{i % 100:02d}",
        "currency": "USD",
        "condition": ["new", "used", "refurbished"][i % 3],
        "brand": "Marca",
        "gtin": gtin13(i),
    }


def amazon_row(i: int) -> dict[str, str]:
    return {"sku": f"AMZ-{i:06d}", "title": f"Item {i} in a box", "price": f"{i % 90 + 5}.99",
            "quantity": str(i % 40), "brand": "Acme"}


def mercado_livre_row(i: int) -> dict[str, str]:
    return {"id": f"MLA{i:08d}", "title": f"Artículo {i}", "price": f"{i % 900 + 10}.00",
            "currency_id": "ARS", "available_quantity": str(i % 7), "condition": "new",
            "picture": f"https://img.example/ml/{i}.jpg", "gtin": gtin13(i, prefix="779")}


_ROWS = {"google_merchant": google_row, "amazon": amazon_row, "mercado_livre": mercado_livre_row}
_BAD = {
    "google_merchant": _BAD_GOOGLE,
    "amazon": [("price", "free"), ("title", "Best deal!!! $$$"), ("sku", "")],
    "mercado_livre": [("price", "0"), ("currency_id", "USD"), ("title", "")],
}


def sample_rows(feed: SampleFeed, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(f"{seed}:{feed.relpath}")
    make = _ROWS[feed.marketplace]
    rows = []
    for i in range(1, feed.rows + 1):
        row = make(i)
        if "currency" in row:
            row["currency"] = REGION_CURRENCY.get(feed.region, "USD")
        if i % feed.bad_every == 0:
            field, value = rng.choice(_BAD[feed.marketplace])
            row[field] = value
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or list(rows[0])
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)  # appear complete, the way an uploader should deliver
    return path


def write_sample(root: Path, feed: SampleFeed, seed: int = 7) -> Path:
    return write_csv(root / feed.relpath, sample_rows(feed, seed))
