using BpfSteer.Interop;

namespace Yarp.SockmapForwarder.DataPath;

/// <summary>
/// A user-space connection of a TCP route loop offered to another path (<see cref="DataPathForwarder.TryPromote"/>): its two
/// non-blocking sockets (out of the loop's epoll, nothing held in user space), its route and CPU, and the bytes it has
/// moved so far each way (to add to the other path's counts).
/// </summary>
internal sealed record PromotionCandidate(
    TcpRouteConfig Route, int RouteIndex, int Cpu, SafeFileDescriptorHandle Client, SafeFileDescriptorHandle Backend,
    long BytesClientToBackend, long BytesBackendToClient);
