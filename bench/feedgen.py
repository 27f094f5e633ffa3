"""Seeded Google-Merchant-like feed for the validation benchmark: 11 columns, ~430 bytes a
row, ~5% of records with one or two bad values drawn from the traps that skew counts
(``5.0``-style lax numbers, ``N/A``, trailing spaces, accented titles at and over 150
characters, coupon and bad-check-digit GTINs, http links)."""

import csv
import random
from pathlib import Path

COLUMNS = ["id", "title", "description", "link", "image_link", "availability", "price", "currency",
           "condition", "brand", "gtin"]
WORDS = ("camiseta algodão orgânico sapato couro café moído edição especial kit cozinha panela "
         "inox fone bluetooth cabo usb-c carregador rápido mochila notebook relógio smart").split()


def gtin13(rng: random.Random, first: str | None = None) -> str:
    body = (first or str(rng.randint(1, 8))) + "".join(str(rng.randint(0, 9)) for _ in range(12 - len(first or "1")))
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def good_row(i: int, rng: random.Random) -> dict[str, str]:
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10)))[:150]
    desc = " ".join(rng.choice(WORDS) for _ in range(rng.randint(24, 36)))
    return {
        "id": f"SKU-{i:08d}", "title": title, "description": desc,
        "link": f"https://loja.example.com.br/produtos/{i}/{rng.choice(WORDS)}",
        "image_link": f"https://cdn.example.com.br/img/{i:08d}/{rng.randint(1, 9)}.jpg",
        "availability": rng.choice(["in_stock", "out_of_stock", "preorder", "backorder"]),
        "price": f"{rng.randint(1, 4999)}.{rng.randint(0, 99):02d}", "currency": "BRL",
        "condition": rng.choice(["new", "refurbished", "used"]), "brand": rng.choice(["Marca", "Açaí Co", "Zeta"]),
        "gtin": gtin13(rng),
    }


def _bad(rng: random.Random) -> tuple[str, str]:
    accented = "ção" * 50  # 150 characters, 300 bytes: valid
    choices = [
        ("price", "N/A"), ("price", "+5"), ("price", "1e3"), ("price", "5.0 "), ("price", "-2.00"), ("price", "0"),
        ("availability", "in stock"), ("availability", "In_Stock"), ("currency", "BRL "), ("currency", "reais"),
        ("title", accented + "é"), ("title", ""), ("link", "http://loja.example.com.br/p"),
        ("gtin", "4006381333932"), ("gtin", gtin13(rng, "981")), ("gtin", "12345"), ("condition", "novo"),
        ("id", "X" * 51), ("image_link", "ftp://cdn.example/x.jpg"), ("brand", "B" * 71),
    ]
    return rng.choice(choices)


def generate(path: Path, rows: int, seed: int = 42, bad_share: float = 0.05) -> Path:
    """Write the feed (skipped when it already exists with the same parameters)."""
    path = Path(path)
    stamp = path.with_suffix(path.suffix + ".params")
    params = f"{rows}:{seed}:{bad_share}"
    if path.exists() and stamp.exists() and stamp.read_text() == params:
        return path
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for i in range(1, rows + 1):
            row = good_row(i, rng)
            if i == 7:
                row["title"] = "ção" * 50  # the exact-limit trap, valid
            if rng.random() < bad_share:
                for _ in range(rng.choice((1, 1, 2))):
                    field, value = _bad(rng)
                    row[field] = value
            w.writerow([row[c] for c in COLUMNS])
    stamp.write_text(params)
    return path


def generate_large(path: Path, rows: int, base_rows: int = 1_000_000, seed: int = 42) -> Path:
    """``rows`` (a multiple of ``base_rows``) as copies of the seeded base feed whose ids get a
    copy prefix (``SKU-`` -> ``SKU3-``), so ids stay unique: 10M rows in seconds, not minutes."""
    path = Path(path)
    stamp = path.with_suffix(path.suffix + ".params")
    params = f"{rows}:{seed}:large"
    if path.exists() and stamp.exists() and stamp.read_text() == params:
        return path
    base = generate(path.with_name(f"feed-{base_rows}.csv"), base_rows, seed)
    with path.open("wb") as out:
        for copy in range(rows // base_rows):
            with base.open("rb") as src:
                header = src.readline()
                if copy == 0:
                    out.write(header)
                for line in src:
                    out.write(line.replace(b"SKU-", b"SKU%d-" % copy, 1) if line.startswith(b"SKU-") else line)
    stamp.write_text(params)
    return path


if __name__ == "__main__":
    import sys

    generate(Path(sys.argv[1]), int(sys.argv[2]))
