import {{ package_name }}
from {{ package_name }} import slugify, word_count


def test_version():
    assert {{ package_name }}.__version__ == {{ version | pyrepr }}


def test_slugify():
    assert slugify("Hello, Wörld!") == "hello-world"
    assert slugify("  A  B ", "_") == "a_b"
    assert slugify("") == ""


def test_word_count():
    assert word_count("the cat and The hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}
