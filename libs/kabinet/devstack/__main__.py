"""``python -m kabinet.devstack run`` starts the cluster; ``... mail [N]`` prints received mail."""

import argparse
import sys

from kabinet.devstack.run import print_mail, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m kabinet.devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start PostgreSQL, NATS, the SMTP sink, the services, gateway")
    mail = commands.add_parser("mail", help="print the latest messages the SMTP sink received")
    mail.add_argument("count", nargs="?", type=int, default=5)
    args = parser.parse_args()
    if args.command == "run":
        return run()
    return print_mail(args.count)


if __name__ == "__main__":
    sys.exit(main())
