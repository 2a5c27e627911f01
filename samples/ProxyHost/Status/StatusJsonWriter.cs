using System.Text.Encodings.Web;
using System.Text.Json;
using BpfSteer;

namespace ProxyHost.Status;

/// <summary>
/// Writes <see cref="StatusSnapshot"/> as JSON by hand rather than through serializer naming policies, so the field
/// names in this file are exactly the contract in README.md and a refactoring cannot rename one silently.
/// </summary>
internal static class StatusJsonWriter
{
    public static void Write(Utf8JsonWriter w, StatusSnapshot s)
    {
        w.WriteStartObject();
        w.WriteNumber("version", StatusSnapshot.ContractVersion);
        w.WriteString("timestamp", s.Timestamp);

        if (s.Transport is { } t)
        {
            w.WriteStartObject("transport");
            w.WriteString("selector", t.Selector);
            w.WriteString("selectorDetail", t.SelectorDetail);
            w.WriteStartArray("endpoints");
            foreach (var e in t.Endpoints)
            {
                w.WriteStringValue(e);
            }
            w.WriteEndArray();
            w.WriteStartArray("workers");
            foreach (var worker in t.Workers)
            {
                w.WriteStartObject();
                w.WriteNumber("cpu", worker.Cpu);
                w.WriteNumber("accepted", worker.Accepted);
                w.WriteNumber("incomingCpuMatched", worker.IncomingCpuMatched);
                w.WriteNumber("activeConnections", worker.ActiveConnections);
                w.WriteNumber("acceptResourceFailures", worker.AcceptResourceFailures);
                w.WriteNumber("acceptPauses", worker.AcceptPauses);
                w.WriteNumber("spillShare", Math.Round(worker.SpillShare, 3));
                if (worker.SpillTargetCpu is int target)
                {
                    w.WriteNumber("spillTargetCpu", target);
                }
                else
                {
                    w.WriteNull("spillTargetCpu");
                }
                w.WriteNumber("idleSpinHits", worker.IdleSpinHits);
                w.WriteNumber("idleSleeps", worker.IdleSleeps);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("transport");
        }

        w.WriteStartArray("routes");
        foreach (var r in s.Routes)
        {
            WriteRoute(w, r);
        }
        w.WriteEndArray();

        w.WriteStartObject("kernel");
        foreach (var feature in s.Kernel)
        {
            WriteFeature(w, feature);
        }
        w.WriteEndObject();

        if (s.Forwarder is { } f)
        {
            w.WriteStartObject("forwarder");
            w.WriteBoolean("sockmapUsable", f.SockmapUsable);
            w.WriteString("sockmapDetail", f.SockmapDetail);
            w.WriteStartObject("kernelQueue");
            w.WriteNumber("usedBytes", f.KernelQueue.UsedBytes);
            w.WriteNumber("peakBytes", f.KernelQueue.PeakBytes);
            w.WriteNumber("budgetBytes", f.KernelQueue.BudgetBytes);
            w.WriteNumber("budgetParks", f.KernelQueue.BudgetParks);
            w.WriteEndObject();
            w.WriteStartArray("routeLoops");
            foreach (var loop in f.Loops)
            {
                w.WriteStartObject();
                w.WriteNumber("cpu", loop.Cpu);
                w.WriteNumber("connections", loop.Connections);
                w.WriteNumber("idleSpinHits", loop.IdleSpinHits);
                w.WriteNumber("idleSleeps", loop.IdleSleeps);
                w.WriteNumber("movedOut", loop.MovedOut);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("forwarder");
        }
        w.WriteEndObject();
    }

    public static byte[] ToUtf8Bytes(StatusSnapshot s)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Write(w, s);
        }
        return buffer.ToArray();
    }

    private static void WriteRoute(Utf8JsonWriter w, StatusSnapshot.RouteDto r)
    {
        w.WriteStartObject();
        w.WriteString("id", r.Id);
        w.WriteString("listen", r.Listen);
        w.WriteString("mode", r.Mode);
        w.WriteString("modeReason", r.ModeReason);
        if (r.Cpu is { } cpu)
        {
            w.WriteNumber("cpu", cpu);
        }
        else
        {
            w.WriteNull("cpu");
        }
        w.WriteNumber("activeConnections", r.ActiveConnections);
        w.WriteNumber("totalConnections", r.TotalConnections);
        w.WriteNumber("bytesClientToBackend", r.BytesClientToBackend);
        w.WriteNumber("bytesBackendToClient", r.BytesBackendToClient);
        w.WriteStartArray("verdictRunsPerCpu");
        foreach (var runs in r.VerdictRunsPerCpu)
        {
            w.WriteNumberValue(runs);
        }
        w.WriteEndArray();
        var q = r.KernelQueue;
        w.WriteStartObject("kernelQueue");
        w.WriteNumber("bytes", q.Bytes);
        w.WriteNumber("peakBytes", q.PeakBytes);
        w.WriteNumber("largestBacklogBytes", q.LargestBacklogBytes);
        w.WriteNumber("parkedConnections", q.ParkedConnections);
        w.WriteNumber("heldBackByBudget", q.HeldBackByBudget);
        w.WriteStartObject("parks");
        w.WriteNumber("highMark", q.Parks.HighMark);
        w.WriteNumber("budget", q.Parks.Budget);
        w.WriteNumber("peerFull", q.Parks.PeerFull);
        w.WriteNumber("resumed", q.Parks.Resumed);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    // kernel.<name>: bool, plus kernel.<name>Reason only when false: a script tests the boolean, a person reads why.
    private static void WriteFeature(Utf8JsonWriter w, KernelFeature feature)
    {
        w.WriteBoolean(feature.Name, feature.Available);
        if (!feature.Available)
        {
            w.WriteString(feature.Name + "Reason", feature.Detail);
        }
    }
}
