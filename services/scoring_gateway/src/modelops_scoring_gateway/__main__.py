"""Run the scoring gateway service: `python -m modelops_scoring_gateway`."""

from modelops_scoring_gateway.app import create_app
from modelops_scoring_gateway.settings import ScoringGatewaySettings
from modelops_servicekit.runtime import serve


def main() -> None:
    settings = ScoringGatewaySettings()
    serve(create_app(settings), settings.http)


if __name__ == "__main__":
    main()
