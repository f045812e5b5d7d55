#!/usr/bin/env python3
"""A/B of the shapes of a profile read on the loaded day (docs/clickhouse-cost.md, "The soak
on the fixed cache, the burst after it, and the shapes of a read").

Usage: scripts/experiments/read-shapes-ab.py DATABASE [ROUNDS]   (e.g. bench_read 15)

Needs the local stack up and a day loaded by `bench read` (ClickHouse on 127.0.0.1:8123).
Reads are drawn as bench's RequestMix draws them (a quarter of them the 16 hottest
shoppers, ranges of 1-60 minutes ending in the day's last hour). Each round draws 32
reads and runs every shape on them, in a shuffled order: the batch of 32 as read-model
writes it and in the key's reverse order, and eight of them read alone in three ways.
It prints, per shape, the median ClickHouse CPU (OSCPUVirtualTimeMicroseconds), rows
read and duration of its queries from system.query_log (a batch query holds 32 reads,
a lone one 1). Python's standard library only; a measurement aid, not part of any test.
"""
import calendar, random, sys, time, urllib.parse, urllib.request
DB=sys.argv[1]; ROUNDS=int(sys.argv[2]) if len(sys.argv)>2 else 20
URL="http://127.0.0.1:8123/"
START=calendar.timegm(time.strptime("2026-03-01", "%Y-%m-%d")) * 1000  # the loaded day, UTC
END=START+86_400_000
MIN=60_000
COLS="action, time_ms, time_text, country, device, origin, product_id, product_id_is_text, brand_id, category_id, price, kafka_offset"
def q(sql, comment=None, fmt=None):
    params={"database":DB}
    if comment: params["log_comment"]=comment
    data=sql + ("" if fmt is None else f" FORMAT {fmt}")
    r=urllib.request.urlopen(urllib.request.Request(URL+"?"+urllib.parse.urlencode(params), data=data.encode()), timeout=60)
    return r.read().decode()
rng=random.Random(7)
def draw():
    c=rng.randrange(16) if rng.randrange(4)==0 else rng.randrange(1_000_000)
    to=rng.randrange(END-60*MIN, END)
    frm=to-rng.randrange(MIN, 60*MIN+1)
    return f"cookie{c:014d}", frm, to
def lone(c,f,t): return f"SELECT {COLS} FROM user_tags WHERE cookie = '{c}' AND time_ms >= {f} AND time_ms < {t} ORDER BY time_ms DESC LIMIT 528"
def union(c,f,t):
    one=lambda a: f"SELECT {COLS} FROM (SELECT {COLS} FROM user_tags WHERE cookie = '{c}' AND action = {a} AND time_ms >= {f} AND time_ms < {t} ORDER BY time_ms DESC LIMIT 264)"
    return one("'VIEW'")+" UNION ALL "+one("'BUY'")
def lone_by(c,f,t): return f"SELECT {COLS} FROM user_tags WHERE cookie = '{c}' AND time_ms >= {f} AND time_ms < {t} ORDER BY cookie DESC, action DESC, time_ms DESC LIMIT 264 BY action"
def batch(reads, order):
    cs=",".join(f"'{c}'" for c,_,_ in reads); fs=",".join(str(f) for _,f,_ in reads); ts=",".join(str(t) for _,_,t in reads)
    return (f"SELECT cookie, {COLS} FROM user_tags WHERE cookie IN ({cs}) AND time_ms >= transform(cookie, [{cs}], [{fs}], 0) "
            f"AND time_ms < transform(cookie, [{cs}], [{ts}], 0) ORDER BY {order} LIMIT 264 BY cookie, action")
variants={
 "lone": lambda rs:[lone(*r) for r in rs[:8]],
 "union": lambda rs:[union(*r) for r in rs[:8]],
 "lone_by": lambda rs:[lone_by(*r) for r in rs[:8]],
 "batch_sort": lambda rs:[batch(rs,"cookie, time_ms DESC")],
 "batch_key": lambda rs:[batch(rs,"cookie DESC, action DESC, time_ms DESC")],
}
tag=f"ab{int(time.time())}"
# results agree?
rs=[draw() for _ in range(32)]
for name,f in variants.items():
    for sql in f(rs): q(sql, f"{tag}:warm:{name}")
for r in range(ROUNDS):
    rs=[draw() for _ in range(32)]
    names=list(variants); rng.shuffle(names)
    for name in names:
        for sql in variants[name](rs): q(sql, f"{tag}:{name}")
q("SYSTEM FLUSH LOGS")
out=q(f"""SELECT log_comment, count(), quantileExact(0.5)(ProfileEvents['OSCPUVirtualTimeMicroseconds']), avg(ProfileEvents['OSCPUVirtualTimeMicroseconds']), quantileExact(0.5)(read_rows), avg(read_rows), quantileExact(0.5)(query_duration_ms)
FROM system.query_log WHERE type = 'QueryFinish' AND log_comment LIKE '{tag}:%' AND log_comment NOT LIKE '%warm%' GROUP BY log_comment ORDER BY log_comment""", fmt="TSV")
print("variant\tqueries\tcpu_p50_us\tcpu_avg_us\trows_p50\trows_avg\tms_p50")
print(out)
