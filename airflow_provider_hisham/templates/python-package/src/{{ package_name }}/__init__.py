{{ description | pyrepr }}

from {{ package_name }}.core import slugify, word_count

__all__ = ["slugify", "word_count", "__version__"]
__version__ = {{ version | pyrepr }}
