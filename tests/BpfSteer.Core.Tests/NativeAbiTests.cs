using System.Runtime.InteropServices;
using BpfSteer.Interop;

namespace BpfSteer.Core.Tests;

/// <summary>The architecture check, and the epoll_event conversion used where the C struct is not packed (arm64).</summary>
public class NativeAbiTests
{
    [Theory]
    [InlineData(Architecture.X64)]
    [InlineData(Architecture.Arm64)]
    public void Refusal_CheckedArchitecture_IsNull(Architecture architecture)
    {
        Assert.True(NativeAbi.IsChecked(architecture));
        Assert.Null(NativeAbi.Refusal(architecture, "The BpfSteer transport"));
        Assert.NotNull(EpollEventLayout.For(architecture));
    }

    [Theory]
    [InlineData(Architecture.X86)]
    [InlineData(Architecture.Arm)]
    [InlineData(Architecture.S390x)]
    [InlineData(Architecture.Ppc64le)]
    [InlineData(Architecture.RiscV64)]
    [InlineData(Architecture.LoongArch64)]
    public void Refusal_UncheckedArchitecture_NamesItAndWhatIsChecked(Architecture architecture)
    {
        Assert.False(NativeAbi.IsChecked(architecture));
        Assert.Null(EpollEventLayout.For(architecture));
        var refusal = NativeAbi.Refusal(architecture, "The BpfSteer transport");
        Assert.NotNull(refusal);
        Assert.StartsWith($"The BpfSteer transport does not run on {architecture}:", refusal);
        Assert.Contains("struct layouts", refusal);
        Assert.Contains("X64 and Arm64 only", refusal);
    }

    [Fact]
    public void ThrowIfUnchecked_ThisMachine_DoesNotThrow()
    {
        Assert.True(NativeAbi.IsChecked(RuntimeInformation.ProcessArchitecture));
        NativeAbi.ThrowIfUnchecked("The BpfSteer transport");
    }

    [Fact]
    public void ProbeOn_UncheckedArchitecture_EveryFeatureUnavailableWithTheReason()
    {
        var report = KernelFeatures.ProbeOn(Architecture.S390x);
        Assert.Equal(8, report.All.Count);
        Assert.All(report.All, f =>
        {
            Assert.False(f.Available);
            Assert.Contains("does not run on S390x", f.Detail);
        });
        Assert.Equal(KernelFeatures.Probe().All.Select(f => f.Name), report.All.Select(f => f.Name));
    }

    [Fact]
    public void CurrentLayout_ThisMachine_IsTheManagedStructOnX64()
    {
        Assert.Equal(EpollEventLayout.For(RuntimeInformation.ProcessArchitecture), EpollEventLayout.Current);
        Assert.Equal(RuntimeInformation.ProcessArchitecture == Architecture.X64, EpollEventLayout.CurrentIsManaged);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(4, 3)]
    [InlineData(256, 192)]
    public void CapacityIn_AlignedLayout_FitsTheCallersBytes(int managed, int expected)
        => Assert.Equal(expected, EpollEventLayout.Aligned.CapacityIn(managed));

    [Fact]
    public unsafe void ToManaged_AlignedEntries_RewrittenInPlace()
    {
        // What an arm64 kernel writes into the caller's buffer: 16-byte entries, data at offset 8.
        const int count = 192;
        var events = new Libc.EpollEvent[256];
        fixed (Libc.EpollEvent* p = events)
        {
            var bytes = (byte*)p;
            for (var i = 0; i < count; i++)
            {
                EpollEventLayout.Aligned.Write(new Libc.EpollEvent { Events = (uint)i | Libc.EPOLLET, Data = 0x1_0000_0000UL * (ulong)i + 7 }, bytes + i * 16);
            }
            EpollEventLayout.Aligned.ToManaged(bytes, count);
        }
        for (var i = 0; i < count; i++)
        {
            Assert.Equal((uint)i | Libc.EPOLLET, events[i].Events);
            Assert.Equal(0x1_0000_0000UL * (ulong)i + 7, events[i].Data);
        }
    }

    [Fact]
    public unsafe void WriteRead_PackedLayout_IsTheManagedStruct()
    {
        var ev = new Libc.EpollEvent { Events = Libc.EPOLLIN | Libc.EPOLLRDHUP, Data = Epoll.WakeToken - 1 };
        var native = stackalloc byte[EpollEventLayout.MaxSize];
        EpollEventLayout.Packed.Write(ev, native);
        Assert.Equal(ev, *(Libc.EpollEvent*)native);
        Assert.Equal(ev, EpollEventLayout.Packed.Read(native));
    }
}
