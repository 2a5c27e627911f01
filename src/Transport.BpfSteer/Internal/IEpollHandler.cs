namespace BpfSteer.Transport.Internal;

/// <summary>Something a worker polls (a listen socket or a connection); called on the worker thread only.</summary>
internal interface IEpollHandler
{
    void OnEvents(uint events);
}
