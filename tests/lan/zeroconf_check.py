#!/usr/bin/python3
"""An independent mDNS client (python-zeroconf, Debian's python3-zeroconf) for the LAN tests.

  zeroconf_check.py resolve TYPE TIMEOUT   print every instance of TYPE as JSON lines
  zeroconf_check.py host NAME TIMEOUT      print the A records of NAME as a JSON list
  zeroconf_check.py watch TYPE TIMEOUT     print "added|updated|removed NAME ADDRS" lines as they happen

Exits 1 when nothing was found before TIMEOUT seconds (watch: runs until TIMEOUT, exits 0).
"""
import json
import socket
import sys
import time

from zeroconf import DNSOutgoing, DNSQuestion, ServiceBrowser, ServiceStateChange, Zeroconf
from zeroconf.const import _CLASS_IN, _FLAGS_QR_QUERY, _TYPE_A


def info_json(zc, type_, name):
    info = zc.get_service_info(type_, name, timeout=3000)
    if info is None:
        return None
    return {
        "name": name,
        "server": info.server,
        "port": info.port,
        "addresses": info.parsed_addresses(),
        "properties": {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()},
    }


def resolve(type_, timeout):
    zc = Zeroconf()
    names = []
    ServiceBrowser(zc, type_, handlers=[lambda zeroconf, service_type, name, state_change: names.append(name)
                                        if state_change is ServiceStateChange.Added else None])
    deadline = time.time() + timeout
    while time.time() < deadline and not names:
        time.sleep(0.05)
    found = [info_json(zc, type_, n) for n in sorted(set(names))]
    zc.close()
    found = [f for f in found if f]
    for f in found:
        print(json.dumps(f), flush=True)
    return 0 if found else 1


def host(name, timeout):
    zc = Zeroconf()
    deadline = time.time() + timeout
    addresses = []
    while time.time() < deadline and not addresses:
        out = DNSOutgoing(_FLAGS_QR_QUERY)
        out.add_question(DNSQuestion(name, _TYPE_A, _CLASS_IN))
        zc.send(out)
        step = time.time() + 0.5
        while time.time() < step and not addresses:
            time.sleep(0.05)
            records = zc.cache.get_all_by_details(name, _TYPE_A, _CLASS_IN)
            addresses = sorted({socket.inet_ntoa(r.address) for r in records})
    zc.close()
    print(json.dumps(addresses), flush=True)
    return 0 if addresses else 1


def watch(type_, timeout):
    zc = Zeroconf()

    def on_change(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Removed:
            print(f"removed {name}", flush=True)
            return
        info = zeroconf.get_service_info(service_type, name, timeout=2000)
        addrs = ",".join(info.parsed_addresses()) if info else ""
        kind = "added" if state_change is ServiceStateChange.Added else "updated"
        print(f"{kind} {name} {addrs}", flush=True)

    ServiceBrowser(zc, type_, handlers=[on_change])
    time.sleep(timeout)
    zc.close()
    return 0


if __name__ == "__main__":
    mode, arg, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sys.exit({"resolve": resolve, "host": host, "watch": watch}[mode](arg, timeout))
