"""Points the published OCI-P SOAP client (broadworks-ocip-soap) at odin-sim's SOAP front.

A real client that nobody here wrote loads the simulator's WSDL with its SOAP toolkit (zeep),
over HTTPS with the simulator's private CA, logs in (the signed login, whose session lives in
the JSESSIONID cookie), lists a group's users, has values generated and sets a SIP password, a
voice portal passcode and a web password for several users; the simulator's truth
(/_sim/credentials) must then hold exactly the values that client set, each changed once, and
its statistics must have counted the commands under their names. A second client with a wrong
password must be refused.

Usage: python ocip_soap_check.py PATH_TO_ODIN_SIM_BINARY
"""

import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request

from broadworks_ocip.exceptions import OCIErrorResponse
from broadworks_ocip_soap import BroadworksSOAP

SERVICE_PROVIDER = "demo-sp"
GROUP = "demo-group"
SERVICE_PATH = "/webservice/services/ProvisioningService"


def start(binary: str, ca_file: str):
    simulator = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--users", "25", "--seed", "7",
         "--tls", "--cert-out", ca_file],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = simulator.stdout.readline().strip()
    prefix = "odin-sim listening on https://"
    if not line.startswith(prefix):
        simulator.kill()
        raise SystemExit(f"unexpected line from odin-sim: {line!r}")
    root = line[len("odin-sim listening on "):].replace("/api/v2", "")
    return simulator, root


def read_json(url: str, context: ssl.SSLContext):
    with urllib.request.urlopen(url, context=context) as answer:
        return json.load(answer)


def set_credentials(api: BroadworksSOAP, users, problems):
    """Generates and sets the three kinds of credential of each user; the values set."""
    set_values = {}
    for user_id in users:
        generated = api.command(
            "PasswordGenerateRequest",
            user_password=api.ocip.get_type_object(
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
        api.command(
            "UserAuthenticationModifyRequest", user_id=user_id, user_name=name, new_password=sip
        )
        api.command("UserPortalPasscodeModifyRequest", user_id=user_id, new_passcode=passcode)
        api.command("PasswordModifyRequest", user_id=user_id, new_password=web)
        set_values[user_id] = (sip, passcode, web)
    return set_values


def compare_with_truth(truth, users, set_values, problems):
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
    for user_id in users:
        if user_id not in set_values and truth[user_id]["changes"] != {"sip": 0, "vm": 0, "web": 0}:
            problems.append(f"{user_id} was changed but never asked for")


def count(stats, method: str, route: str, status: int) -> int:
    return sum(
        row["count"]
        for row in stats["requests"]
        if row["method"] == method and row["route"] == route and row["status"] == status
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        return check(sys.argv[1], os.path.join(directory, "odin-sim-ca.pem"))


def check(binary: str, ca_file: str) -> int:
    simulator, root = start(binary, ca_file)
    # requests (under zeep) trusts the simulator's private CA through this variable only.
    os.environ["REQUESTS_CA_BUNDLE"] = ca_file
    context = ssl.create_default_context(cafile=ca_file)
    try:
        api = BroadworksSOAP(url=root + SERVICE_PATH, username="admin", password="admin")
        problems = []
        cookies = api.soap_client.transport.session.cookies
        if "JSESSIONID" not in cookies:
            problems.append("the login left no JSESSIONID cookie")
        listing = api.command(
            "UserGetListInGroupRequest", service_provider_id=SERVICE_PROVIDER, group_id=GROUP
        )
        users = [row.user_id for row in listing.user_table]
        if len(users) != 25:
            problems.append(f"the user list has {len(users)} users, not 25")
        chosen = users[:10]
        set_values = set_credentials(api, chosen, problems)
        if len(set_values) != len(chosen):
            problems.append("not every chosen user was set")

        try:
            BroadworksSOAP(url=root + SERVICE_PATH, username="admin", password="wrong")
            problems.append("a wrong password was accepted")
        except OCIErrorResponse as error:
            if "4962" not in str(error):
                problems.append(f"a wrong password was refused with {error}")

        truth = {record["userId"]: record for record in read_json(f"{root}/_sim/credentials", context)}
        compare_with_truth(truth, users, set_values, problems)
        stats = read_json(f"{root}/_sim/stats", context)
        for command in (
            "UserAuthenticationModifyRequest",
            "UserPortalPasscodeModifyRequest",
            "PasswordModifyRequest",
            "PasswordGenerateRequest",
        ):
            if count(stats, "OCIP", command, 200) != len(set_values):
                problems.append(f"the statistics do not count {command} once per user")
        # 2 login steps, 1 listing, 5 commands per user; the wrong login's 2 steps.
        expected_posts = 2 + 1 + 5 * len(set_values) + 2
        if count(stats, "POST", SERVICE_PATH, 200) != expected_posts:
            problems.append(f"the statistics do not count {expected_posts} SOAP calls")

        for problem in problems:
            print(problem)
        if problems:
            return 1
        print(
            f"broadworks-ocip-soap: WSDL loaded over HTTPS with a private CA, {len(users)} users "
            f"listed, {len(set_values)} users given a new SIP password, passcode and web password, "
            "all agreeing with the simulator's truth; a wrong password refused"
        )
        return 0
    finally:
        simulator.terminate()
        simulator.wait()


if __name__ == "__main__":
    sys.exit(main())
