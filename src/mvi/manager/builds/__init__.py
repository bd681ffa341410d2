"""What a deploy is built from: the project archive and the virtual environment it needs.

:mod:`~mvi.manager.builds.archives` packs a project (the CLI's side) and receives and
unpacks it safely (the manager's); :mod:`~mvi.manager.builds.environments` builds a
version's virtual environment with uv, shared by versions with equal requirements.
"""

__all__: list[str] = []
