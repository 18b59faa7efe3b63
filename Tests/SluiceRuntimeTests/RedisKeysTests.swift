// The dashboard contract's key names (README): one type spells them, under any prefix.

import SluiceRuntime
import Testing

@Suite struct RedisKeysTests {
    @Test func keysFollowTheContract() {
        let k = RedisKeys(prefix: "p:")
        #expect(RedisKeys().prefix == "sluice:")
        #expect(k.job("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b") == "p:job:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
        #expect(k.events == "p:events")
        #expect(k.cache(query: RedisKeys.cacheName(query: "usage", target: "main"), hash: "ab") == "p:cache:usage:ab")
        #expect(k.cache(query: RedisKeys.cacheName(query: "usage", target: "eu"), hash: "ab") == "p:cache:usage@eu:ab")
        #expect(k.cachePattern(query: "usage") == "p:cache:usage:*")
        #expect(k.segmentCount(hash: "ab") == "p:cache:segment:ab")
        #expect(k.health(target: "main", report: "bloat") == "p:health:main:bloat")
        #expect(k.health(target: "main", report: "bloat").hasPrefix(k.healthReports(target: "main")))
        #expect(k.alerts == "p:alerts")
        #expect(k.firingAlerts(target: "main") == "p:alerts:firing:main")
        #expect(k.output(RedisKeys.matviewOutput(view: "demo.v", target: "main")) == "p:matview:demo.v")
        #expect(k.output(RedisKeys.matviewOutput(view: "demo.v", target: "eu")) == "p:matview:eu:demo.v")
        #expect(k.output(RedisKeys.matviewOutput(view: "demo.v", target: "eu")).hasPrefix(k.matviews))
    }
}
