"""Demo data: a synthetic organization tree of the union, in the registry's file format."""

from reestr.demo.orgs import generate_orgs, summary, write_csv, write_xlsx

__all__ = ["generate_orgs", "summary", "write_csv", "write_xlsx"]
