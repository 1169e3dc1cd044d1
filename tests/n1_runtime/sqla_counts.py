"""Query counts of the SQLAlchemy runtime-proof app on SQLite, counted with a
``before_cursor_execute`` listener. Usage: python sqla_counts.py APP_ROOT ROWS → JSON {"loop": n}."""
import json
import sys


def main(root: str, rows: int) -> dict:
    sys.path.insert(0, root)
    from sqlalchemy import create_engine, event
    from sqlalchemy.orm import Session

    from orders.models import Base, Customer, Line, Order
    from orders.reports import order_summaries

    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for i in range(rows):
            order = Order(customer=Customer(name=f"c{i}"))
            order.lines = [Line(qty=1), Line(qty=2)]
            session.add(order)
        session.commit()
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(engine) as session:
        result = order_summaries(session)
    assert len(result) == rows and all(total == 3 for _, total in result), result
    return {"loop": len(statements)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
