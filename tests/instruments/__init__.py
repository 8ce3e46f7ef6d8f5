"""Tests of the instruments layer (a package so that its module names stay unique)."""
