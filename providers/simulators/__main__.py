"""Run the simulators on their own:

    python -m providers.simulators --thaid-port 8100 --ndid-port 8200 --dbd-port 8400 \
        --gateway-callback-base http://127.0.0.1:8000

A port of 0 leaves that simulator off. The ThaiD-style provider accepts one client
(``--thaid-client-id`` / ``--thaid-client-secret``) whose redirect URIs are the ``--thaid-redirect-uri``
values, or ``<gateway-callback-base>/upstream/thaid/callback`` when none is given.
"""

from __future__ import annotations

import argparse
import signal
import threading

from providers.simulators.citizens import DEMO_CITIZENS
from providers.simulators.dbd import DEMO_COMPANIES, create_dbd_app
from providers.simulators.ndid import DEMO_IDPS, create_ndid_app
from providers.simulators.server import ServerThread
from providers.simulators.thaid import create_thaid_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m providers.simulators", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--thaid-port", type=int, default=8100)
    parser.add_argument("--ndid-port", type=int, default=8200)
    parser.add_argument("--dbd-port", type=int, default=8400, help="DBD-style juristic-person registry")
    parser.add_argument("--thaid-issuer", help="default http://<host>:<thaid-port>")
    parser.add_argument("--thaid-client-id", default="idgw")
    parser.add_argument("--thaid-client-secret", default="idgw-thaid-demo-secret")
    parser.add_argument("--thaid-redirect-uri", action="append", default=[])
    parser.add_argument("--thaid-alg", choices=["ES256", "RS256"], default="ES256")
    parser.add_argument("--gateway-callback-base", default="http://127.0.0.1:8000")
    parser.add_argument("--control", action="store_true", help="enable the /_sim test-control endpoints")
    args = parser.parse_args(argv)

    servers: list[ServerThread] = []
    if args.thaid_port:
        issuer = args.thaid_issuer or f"http://{args.host}:{args.thaid_port}"
        redirect_uris = args.thaid_redirect_uri or [args.gateway_callback_base.rstrip("/") + "/upstream/thaid/callback"]
        app = create_thaid_app(issuer=issuer, client_id=args.thaid_client_id, client_secret=args.thaid_client_secret,
                               redirect_uris=redirect_uris, alg=args.thaid_alg, control=args.control)
        servers.append(ServerThread(app, host=args.host, port=args.thaid_port).start())
        print(f"ThaiD simulator: {issuer} (client {args.thaid_client_id}, redirect URIs {', '.join(redirect_uris)})")
    if args.ndid_port:
        app = create_ndid_app(control=args.control)
        servers.append(ServerThread(app, host=args.host, port=args.ndid_port).start())
        print(f"NDID simulator: http://{args.host}:{args.ndid_port} (IdP app at /idp-app; IdPs "
              f"{', '.join(i['idp_id'] for i in DEMO_IDPS)})")
    if args.dbd_port:
        servers.append(ServerThread(create_dbd_app(control=args.control), host=args.host, port=args.dbd_port).start())
        print(f"DBD registry simulator: http://{args.host}:{args.dbd_port} (companies "
              f"{', '.join(c['juristic_id'] + ' ' + c['name_en'] for c in DEMO_COMPANIES)})")
    print("Demo citizens: " + ", ".join(f"{c['pid']} {c['given_name']} {c['family_name']}" for c in DEMO_CITIZENS))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    for server in servers:
        server.stop()


if __name__ == "__main__":
    main()
