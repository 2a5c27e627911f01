using System.Runtime.InteropServices;
using BpfSteer.Testing;
using Yarp.SockmapForwarder.DataPath;
using Yarp.SockmapForwarder.DataPath.Sockmap;

namespace Yarp.SockmapForwarder.Tests.DataPath;

/// <summary>The C# mirrors of bpf/sockmap_forward.h checked against the header, compiled by clang for every architecture BpfSteer runs on.</summary>
public sealed class BpfStructLayoutTests
{
    private const string Prelude = "#include <linux/types.h>\n#include \"sockmap_forward.h\"";

    [Theory]
    [MemberData(nameof(CLayout.CheckedArchitectures), MemberType = typeof(CLayout))]
    public void Mirrors_MatchTheCHeader_SizesAndOffsets(Architecture target)
    {
        var c = CLayout.Evaluate(target, Prelude,
            "sizeof(struct conn_state)", "offsetof(struct conn_state, cpu)",
            "sizeof(struct conn_slot)", "offsetof(struct conn_slot, written)", "offsetof(struct conn_slot, consumed)",
            "offsetof(struct conn_slot, high_mark)", "offsetof(struct conn_slot, peer_base)", "offsetof(struct conn_slot, parked)",
            "offsetof(struct conn_slot, trimmed)", "offsetof(struct conn_slot, trim_failed)",
            "sizeof(struct route_stats)", "offsetof(struct route_stats, passed)", "BPFSTEER_NO_CPU");
        long[] managed =
        [
            Marshal.SizeOf<ConnState>(), Marshal.OffsetOf<ConnState>(nameof(ConnState.Cpu)),
            Marshal.SizeOf<ConnSlot>(), Marshal.OffsetOf<ConnSlot>(nameof(ConnSlot.Written)), Marshal.OffsetOf<ConnSlot>(nameof(ConnSlot.Consumed)),
            Marshal.OffsetOf<ConnSlot>(nameof(ConnSlot.HighMark)), Marshal.OffsetOf<ConnSlot>(nameof(ConnSlot.PeerBase)), Marshal.OffsetOf<ConnSlot>(nameof(ConnSlot.Parked)),
            Marshal.OffsetOf<ConnSlot>(nameof(ConnSlot.Trimmed)), Marshal.OffsetOf<ConnSlot>(nameof(ConnSlot.TrimFailed)),
            Marshal.SizeOf<RouteStats>(), Marshal.OffsetOf<RouteStats>(nameof(RouteStats.Passed)), ConnState.NoCpu,
        ];
        Assert.Equal(c, managed);
    }

    [Fact]
    public void RouteIndexes_Count_IsTheHeadersMaxRoutes()
        => Assert.Equal(RouteIndexes.Count, Assert.Single(CLayout.Evaluate(Prelude, "BPFSTEER_MAX_ROUTES")));
}
