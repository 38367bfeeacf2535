from {{ package_name }}.transform import clean, parse_rows, totals_by_region

CSV = "region,amount\nnorth,10.5\nSouth,4\n north ,1.5\neast,not-a-number\n,7\n\n"


def test_pipeline_on_sample():
    assert totals_by_region(clean(parse_rows(CSV))) == {"North": 12.0, "South": 4.0}


def test_clean_drops_bad_rows():
    assert clean([{"region": "x", "amount": "n/a"}, {"region": "", "amount": "1"}]) == []
