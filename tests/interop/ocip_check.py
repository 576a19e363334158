"""Points the published OCI-P client (broadworks-ocip) at odin-sim's OCI-P front.

A real client that nobody here wrote must be able to log in (the signed login), list a group's
users, have passwords generated, and set a SIP password, a voice portal passcode and a web
password for several users; the simulator's truth (/_sim/credentials) must then hold exactly the
values that client set, each changed once. It also reads a user's phone with the three reads
bwreset's device follow-up uses, which the package decodes only when every required element is
there.

Usage: python ocip_check.py PATH_TO_ODIN_SIM_BINARY
"""

import json
import subprocess
import sys
import urllib.request

from broadworks_ocip import BroadworksAPI

SERVICE_PROVIDER = "demo-sp"
GROUP = "demo-group"


def start(binary: str):
    simulator = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--users", "25", "--seed", "5",
         "--ocip-listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    http_line = simulator.stdout.readline().strip()
    ocip_line = simulator.stdout.readline().strip()
    http_prefix = "odin-sim listening on "
    ocip_prefix = "odin-sim ocip listening on ocip://"
    if not http_line.startswith(http_prefix) or not ocip_line.startswith(ocip_prefix):
        simulator.kill()
        raise SystemExit(f"unexpected lines from odin-sim: {http_line!r}, {ocip_line!r}")
    root = http_line[len(http_prefix):].replace("/api/v2", "")
    host, port = ocip_line[len(ocip_prefix):].rsplit(":", 1)
    return simulator, root, host, int(port)


def main() -> int:
    simulator, root, host, port = start(sys.argv[1])
    try:
        api = BroadworksAPI(host=host, port=port, username="admin", password="admin")
        listing = api.command(
            "UserGetListInGroupRequest", service_provider_id=SERVICE_PROVIDER, group_id=GROUP
        )
        users = [row.user_id for row in listing.user_table]
        problems = []
        if len(users) != 25:
            problems.append(f"the user list has {len(users)} users, not 25")
        chosen = users[:10]
        set_values = {}
        for user_id in chosen:
            generated = api.command(
                "PasswordGenerateRequest",
                user_password=api.get_type_object(
                    "PasswordForUser",
                    service_provider_id=SERVICE_PROVIDER,
                    group_id=GROUP,
                    user_id=user_id,
                    generate_password=True,
                    generate_passcode=True,
                    generate_sip_password=True,
                ),
            )
            sip = generated.user_sip_authentication_password
            passcode = generated.user_passcode
            web = generated.user_password
            if not (sip and passcode and web):
                problems.append(f"{user_id}: the generator left a value out")
                continue
            name = api.command("UserAuthenticationGetRequest", user_id=user_id).user_name
            # As the package's users do: the user name goes along with the new password.
            api.command(
                "UserAuthenticationModifyRequest",
                user_id=user_id,
                user_name=name,
                new_password=sip,
            )
            api.command("UserPortalPasscodeModifyRequest", user_id=user_id, new_passcode=passcode)
            api.command("PasswordModifyRequest", user_id=user_id, new_password=web)
            set_values[user_id] = (sip, passcode, web)

        # The reads that find a user's phone (bwreset's --devices over OCI-P): the package
        # decodes them only if every element the schema requires is there.
        first = users[0]
        profile = api.command("UserGetRequest22", user_id=first)
        endpoint = profile.access_device_endpoint
        if profile.user_id != first or endpoint is None:
            problems.append(f"UserGetRequest22: no access device endpoint for {first}")
        else:
            device = endpoint.access_device
            if (device.device_level, device.device_name) != ("Group", "phone-0001"):
                problems.append(f"UserGetRequest22: {first}'s device is {device.device_name}")
            facts = api.command(
                "GroupAccessDeviceGetRequest18sp1",
                service_provider_id=SERVICE_PROVIDER,
                group_id=GROUP,
                device_name=device.device_name,
            )
            if facts.device_type != "Generic SIP Phone" or facts.use_custom_user_name_password:
                problems.append("GroupAccessDeviceGetRequest18sp1: not the simulator's phone")
        appearances = api.command("UserSharedCallAppearanceGetRequest21sp1", user_id=first)
        if appearances.endpoint_table:
            problems.append(f"{first} has shared call appearances the simulator did not make")
        api.close()

        with urllib.request.urlopen(f"{root}/_sim/credentials") as answer:
            truth = {record["userId"]: record for record in json.load(answer)}
        for user_id, (sip, passcode, web) in set_values.items():
            record = truth[user_id]
            for kind, sent, held in (
                ("sip", sip, record["sipPassword"]),
                ("vm", passcode, record["portalPasscode"]),
                ("web", web, record["webPassword"]),
            ):
                if sent != held:
                    problems.append(f"{kind}: {user_id} differs from the simulator's truth")
                if record["changes"][kind] != 1:
                    problems.append(f"{kind}: {user_id} was not changed exactly once")
        untouched = [user_id for user_id in users if user_id not in set_values]
        for user_id in untouched:
            if truth[user_id]["changes"] != {"sip": 0, "vm": 0, "web": 0}:
                problems.append(f"{user_id} was changed but never asked for")
        if len(set_values) != len(chosen):
            problems.append("not every chosen user was set")
        for problem in problems:
            print(problem)
        if problems:
            return 1
        print(
            f"broadworks-ocip: {len(users)} users listed, {len(set_values)} users given a new "
            "SIP password, passcode and web password, all agreeing with the simulator's truth; "
            "a user's phone read as the simulator holds it"
        )
        return 0
    finally:
        simulator.terminate()
        simulator.wait()


if __name__ == "__main__":
    sys.exit(main())
