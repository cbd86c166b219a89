"""Storage: the pynamodb models of every table, their indexes, TTL and version attributes.

Item layouts live here and nowhere else; handlers and consumers call the functions of the
modules in this package (``persons``, ``venues``, ``scans`` …) and never build keys themselves.
Tables are declared in ``template.yaml`` (never created by application code); their names come
from the environment variables the template sets, read when a model is first used.
"""
