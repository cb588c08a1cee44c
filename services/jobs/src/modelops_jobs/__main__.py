"""Run the jobs service: `python -m modelops_jobs`."""

from modelops_jobs.app import create_app
from modelops_jobs.settings import JobsSettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = JobsSettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
