"""Relational store: SQLAlchemy tables, migrations and insert-only repositories.

Repositories take a connection and never commit; the service layer owns the transaction.
"""
