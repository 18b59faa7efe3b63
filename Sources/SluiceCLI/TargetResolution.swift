// TargetResolution: how this process reaches each target the catalog declares. The one place
// that turns a target's `url_env` / `url` into a connection configuration (the CLI is the only
// reader of the environment); `catalog check`, `doctor` and `worker` all use it.

import Foundation
import Postgres
import SluiceCatalog
import SluiceRuntime

package enum TargetResolution {
    /// Why a target cannot be reached from this process.
    package struct Unreachable: Error, CustomStringConvertible {
        package var description: String
        package init(_ description: String) { self.description = description }
    }

    /// The configuration of `target`, or why this process cannot reach it. The default
    /// `SLUICE_POSTGRES_URL` target falls back to the built-in local URL like every command.
    package static func resolve(_ target: CatalogTarget, settings: Settings,
                        environment: [String: String]? = nil) -> Result<PostgresConfiguration, Unreachable> {
        let environment = environment ?? settings.environment
        let url: String?
        if case .environment(let variable) = target.source, variable == CatalogTarget.defaultEnvironmentVariable {
            url = settings.postgresURL
        } else {
            url = target.resolveURL(environment: environment)
        }
        guard let url else {
            if case .environment(let variable) = target.source {
                return .failure(Unreachable("target \(target.name): environment variable \(variable) is not set"))
            }
            return .failure(Unreachable("target \(target.name): no URL"))
        }
        do {
            return .success(try PostgresConfiguration(url: url))
        } catch {
            return .failure(Unreachable("target \(target.name): its URL is not valid: \(error)"))
        }
    }

    /// Every declared target as a worker's pools see it.
    package static func connections(_ catalog: Catalog, settings: Settings) -> [String: TargetPools.Connection] {
        var out: [String: TargetPools.Connection] = [:]
        for target in catalog.targets {
            switch resolve(target, settings: settings) {
            case .success(let c): out[target.name] = .configured(c)
            case .failure(let reason): out[target.name] = .unavailable(reason.description)
            }
        }
        return out
    }
}
