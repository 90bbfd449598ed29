"""What two or more studies share: the report writer, the Hessian, one console helper.

Nothing here imports a study; every study may import from here.
"""
