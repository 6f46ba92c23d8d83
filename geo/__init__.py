"""Pure geospatial and data code for the OCOP map: no Flask imports here."""
