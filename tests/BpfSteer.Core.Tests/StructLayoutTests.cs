using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BpfSteer.Internal;
using BpfSteer.Interop;
using BpfSteer.Testing;

namespace BpfSteer.Core.Tests;

/// <summary>
/// Every struct and constant shared with C, checked against the C compiler's view of the real headers of every
/// architecture BpfSteer runs on (<see cref="NativeAbi.CheckedArchitectures"/>; see <see cref="CLayout"/>).
/// </summary>
public class StructLayoutTests
{
    /// <summary>Headers that define every constant of the classes in <see cref="MirroredConstants"/>.</summary>
    private const string AllHeaders = """
        #include <errno.h>
        #include <fcntl.h>
        #include <sched.h>
        #include <sys/epoll.h>
        #include <sys/eventfd.h>
        #include <sys/ioctl.h>
        #include <sys/mman.h>
        #include <sys/resource.h>
        #include <sys/socket.h>
        #include <netinet/in.h>
        #include <linux/sockios.h>
        #include <linux/tcp.h>
        #include <linux/capability.h>
        #include <linux/filter.h>
        #include <linux/bpf.h>
        #include <linux/btf.h>
        """;

    /// <summary>Classes whose constants are copies of C values, each named as in C unless renamed below.</summary>
    private static readonly Type[] MirroredConstants =
        [typeof(Libc), typeof(Errno), typeof(Libbpf), typeof(SockFilter), typeof(RfsFlow), typeof(Capabilities)];

    private static readonly Dictionary<string, string> RenamedConstants = new()
    {
        [nameof(Libc.CpuSetBytes)] = "sizeof(cpu_set_t)",
        [nameof(Libc.SockAddrStorageBytes)] = "sizeof(struct sockaddr_storage)",
        [nameof(Libc.LinuxCapabilityVersion3)] = "_LINUX_CAPABILITY_VERSION_3",
        [nameof(SockFilter.SKF_AD_CPU_OFFSET)] = "SKF_AD_OFF + SKF_AD_CPU",
    };

    public static TheoryData<Architecture> Architectures => CLayout.CheckedArchitectures;

    [Theory]
    [MemberData(nameof(Architectures))]
    public void EveryInteropConstant_MatchesTheCHeaders(Architecture target)
    {
        var constants = MirroredConstants
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Where(f => f.IsLiteral)
            .ToArray();
        var c = CLayout.Evaluate(target, AllHeaders, constants.Select(f => RenamedConstants.GetValueOrDefault(f.Name, f.Name)).ToArray());

        var mismatches = constants.Zip(c)
            .Where(p => !SameValue(p.First.GetRawConstantValue()!, p.Second))
            .Select(p => $"{p.First.DeclaringType!.Name}.{p.First.Name} = {p.First.GetRawConstantValue()}, C says {p.Second}")
            .ToList();
        Assert.True(constants.Length > 100, $"only {constants.Length} constants found");
        Assert.Empty(mismatches);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public unsafe void SockFilterAndFprog_MatchLinuxFilterH(Architecture target)
    {
        var c = CLayout.Evaluate(target, "#include <linux/filter.h>",
            "sizeof(struct sock_filter)", "sizeof(struct sock_fprog)", "offsetof(struct sock_fprog, filter)", "offsetof(struct sock_filter, k)",
            "offsetof(struct sock_filter, jt)", "offsetof(struct sock_filter, jf)");
        Assert.Equal(c[0], sizeof(SockFilter));
        Assert.Equal(c[1], sizeof(SockFprog));
        Assert.Equal(c[2], Marshal.OffsetOf<SockFprog>(nameof(SockFprog.Filter)).ToInt64());
        Assert.Equal(c[3], Marshal.OffsetOf<SockFilter>(nameof(SockFilter.K)).ToInt64());
        Assert.Equal(c[4], Marshal.OffsetOf<SockFilter>(nameof(SockFilter.JumpTrue)).ToInt64());
        Assert.Equal(c[5], Marshal.OffsetOf<SockFilter>(nameof(SockFilter.JumpFalse)).ToInt64());
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public unsafe void EpollEvent_MatchesSysEpollH(Architecture target)
    {
        var c = CLayout.Evaluate(target, "#include <sys/epoll.h>", "sizeof(struct epoll_event)", "offsetof(struct epoll_event, data)");
        var layout = EpollEventLayout.For(target);
        Assert.NotNull(layout);
        Assert.Equal(c[0], layout.Value.Size);
        Assert.Equal(c[1], layout.Value.DataOffset);
        Assert.True(layout.Value.Size <= EpollEventLayout.MaxSize);
        if (layout == EpollEventLayout.Packed)
        {
            // Passed to the kernel as it is: the managed struct must be the C struct.
            Assert.Equal(c[0], sizeof(Libc.EpollEvent));
            Assert.Equal(c[1], Marshal.OffsetOf<Libc.EpollEvent>(nameof(Libc.EpollEvent.Data)).ToInt64());
        }
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void TcpInfo_OffsetsMatchLinuxTcpH(Architecture target)
    {
        var c = CLayout.Evaluate(target, "#include <linux/tcp.h>",
            "offsetof(struct tcp_info, tcpi_state)", "offsetof(struct tcp_info, tcpi_snd_cwnd)", "offsetof(struct tcp_info, tcpi_bytes_acked)",
            "offsetof(struct tcp_info, tcpi_bytes_received)", "offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(__u64)");
        Assert.Equal(c[0], Marshal.OffsetOf<TcpInfo>(nameof(TcpInfo.State)).ToInt64());
        Assert.Equal(c[1], Marshal.OffsetOf<TcpInfo>(nameof(TcpInfo.SndCwnd)).ToInt64());
        Assert.Equal(c[2], Marshal.OffsetOf<TcpInfo>(nameof(TcpInfo.BytesAcked)).ToInt64());
        Assert.Equal(c[3], Marshal.OffsetOf<TcpInfo>(nameof(TcpInfo.BytesReceived)).ToInt64());
        Assert.Equal(c[4], Unsafe.SizeOf<TcpInfo>());
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public unsafe void CapabilityAndRlimitStructs_MatchTheHeaders(Architecture target)
    {
        var c = CLayout.Evaluate(target, "#include <linux/capability.h>\n#include <sys/resource.h>",
            "sizeof(struct __user_cap_header_struct)", "offsetof(struct __user_cap_header_struct, pid)",
            "sizeof(struct __user_cap_data_struct)", "offsetof(struct __user_cap_data_struct, permitted)",
            "offsetof(struct __user_cap_data_struct, inheritable)",
            "sizeof(struct rlimit)", "offsetof(struct rlimit, rlim_max)");
        Assert.Equal(c[0], sizeof(Libc.CapUserHeader));
        Assert.Equal(c[1], Marshal.OffsetOf<Libc.CapUserHeader>(nameof(Libc.CapUserHeader.Pid)).ToInt64());
        Assert.Equal(c[2], sizeof(Libc.CapUserData));
        Assert.Equal(c[3], Marshal.OffsetOf<Libc.CapUserData>(nameof(Libc.CapUserData.Permitted)).ToInt64());
        Assert.Equal(c[4], Marshal.OffsetOf<Libc.CapUserData>(nameof(Libc.CapUserData.Inheritable)).ToInt64());
        Assert.Equal(c[5], sizeof(Libc.RLimit));
        Assert.Equal(c[6], Marshal.OffsetOf<Libc.RLimit>(nameof(Libc.RLimit.Maximum)).ToInt64());
    }

    /// <summary>
    /// A C# constant equals the C value when they are the same number, or the same bits at the C# type's width
    /// (SKF_AD_OFF is a negative int in C and a uint here).
    /// </summary>
    private static bool SameValue(object managed, long c) => managed switch
    {
        int v => v == c,
        uint v => v == c || v == unchecked((uint)c) && c is >= int.MinValue and < 0,
        ushort v => v == c,
        ulong v => unchecked((long)v) == c,
        _ => throw new InvalidOperationException($"unexpected constant type {managed.GetType()}"),
    };
}
