// RunningJobs without a server: a stop cancels the job's task at once, `expire` stops what is
// past its deadline, and a job stopped before its task started is cancelled when it attaches.

@testable import SluiceRuntime
import SluiceCore
import Testing

@Suite struct RunningJobsTests {
    /// A job that sleeps until cancelled: it succeeds after 10 s if nothing cancels it.
    private func sleeper() -> Task<Worker.Outcome, Never> {
        Task {
            do {
                try await Task.sleep(for: .seconds(10))
                return .success(.null)
            } catch {
                return .failure(error)
            }
        }
    }

    @Test func aStopCancelsTheJobsTaskAtOnce() async {
        let running = RunningJobs()
        let id = JobID.make()
        running.add(id)
        let task = sleeper()
        running.attach(id, task: task, deadline: .now + .seconds(3600))
        running.stop(id, .cancelled)
        guard case .failure = await task.value else { Issue.record("the job was not cancelled"); return }
        #expect(running.reason(id) == .cancelled)
        running.stop(id, .shutdown)
        #expect(running.reason(id) == .cancelled, "the first reason stays")
    }

    @Test func expireStopsOnlyTheJobsPastTheirDeadline() async {
        let running = RunningJobs()
        let late = JobID.make(), early = JobID.make()
        running.add(late)
        running.add(early)
        let lateTask = sleeper(), earlyTask = sleeper()
        running.attach(late, task: lateTask, deadline: .now + .seconds(3600))
        running.attach(early, task: earlyTask, deadline: .now - .milliseconds(1))
        running.expire()
        guard case .failure = await earlyTask.value else { Issue.record("the expired job was not cancelled"); return }
        #expect(running.reason(early) == .timeout)
        #expect(running.reason(late) == nil && !lateTask.isCancelled)
        running.stopAll(.shutdown)
        guard case .failure = await lateTask.value else { Issue.record("stopAll did not cancel"); return }
        #expect(running.reason(late) == .shutdown)
        #expect(running.reason(early) == .timeout)
    }

    @Test func aJobStoppedBeforeItsTaskStartedIsCancelledWhenItAttaches() async {
        let running = RunningJobs()
        let id = JobID.make()
        running.add(id)
        running.stop(id, .cancelled)
        let task = sleeper()
        running.attach(id, task: task, deadline: .now + .seconds(3600))
        guard case .failure = await task.value else { Issue.record("the job was not cancelled"); return }
    }
}
